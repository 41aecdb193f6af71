using System.ComponentModel;

namespace Klear.Host.Configuration;

/// <summary>Advantages and the zero-advantage filter.</summary>
public sealed record AlgorithmConfig
{
    [Description("Advantage estimator: grpo | drgrpo | rloo | reinforce++")]
    public string AdvEstimator { get; init; } = "grpo";
    [Description("Drop groups whose rewards have no spread (Fig. 5)")]
    public bool FilterZeroAdvGroups { get; init; } = true;
}
