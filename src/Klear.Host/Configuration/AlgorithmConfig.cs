using System.ComponentModel;

namespace Klear.Host.Configuration;

/// <summary>Advantages, the zero-advantage filter and the rollout–trainer mismatch correction.</summary>
public sealed record AlgorithmConfig
{
    [Description("Advantage estimator: grpo | drgrpo | rloo | reinforce++")]
    public string AdvEstimator { get; init; } = "grpo";
    [Description("Drop groups whose rewards have no spread (Fig. 5)")]
    public bool FilterZeroAdvGroups { get; init; } = true;
    [Description("Rollout correction, token level: none | token (TIS: each token's loss × min(π_old/π_sampler, rollout_is_threshold), detached)")]
    public string RolloutIs { get; init; } = "none";
    [Description("TIS cap C on the token weight π_old/π_sampler")]
    public double RolloutIsThreshold { get; init; } = 2.0;
    [Description("Rollout correction, sequence level: none | sequence (MIS: a response whose Π_t π_old/π_sampler leaves [rollout_rs_threshold_lower, rollout_rs_threshold] gets weight 0)")]
    public string RolloutRs { get; init; } = "none";
    [Description("MIS: the upper bound of the sequence ratio")]
    public double RolloutRsThreshold { get; init; } = 2.0;
    [Description("MIS: the lower bound of the sequence ratio")]
    public double RolloutRsThresholdLower { get; init; } = 0.5;
}
