namespace Klear.Host.Configuration;

/// <summary>Advantages and the zero-advantage filter.</summary>
public sealed record AlgorithmConfig
{
    /// <summary>grpo | drgrpo | rloo | reinforce++.</summary>
    public string AdvEstimator { get; init; } = "grpo";
    /// <summary>Drop groups whose rewards have no spread (Fig. 5).</summary>
    public bool FilterZeroAdvGroups { get; init; } = true;
}
