using System.ComponentModel;

namespace Klear.Host.Configuration;

/// <summary>Rule rewards of the released recipe: ±1 for the answer, penalties for a broken think block.</summary>
public sealed record RewardConfig
{
    [Description("Reward of a correct answer")]
    public double Correct { get; init; } = 1.0;
    [Description("Reward of a wrong answer")]
    public double Wrong { get; init; } = -1.0;
    [Description("Reward when </think> is missing")]
    public double MissingThinkClose { get; init; } = -0.5;
    [Description("Reward when <think> is missing")]
    public double MissingThinkOpen { get; init; } = -2.0;
    [Description("Code reward: ratio (pass ratio, the paper's soft reward) | signed (2·ratio − 1, the released code) | hard (all-or-nothing)")]
    public string CodeMode { get; init; } = "ratio";
    [Description("How the code sandbox starts programs: warm (a long-lived worker per core forks each run; ≈ 5× the throughput) | cold (a fresh sandbox per run); both isolate runs alike")]
    public string SandboxMode { get; init; } = "warm";
    [Description("DAPO's soft overlong punishment: the last N tokens before rollout.max_new_tokens cost linearly up to overlong_penalty_factor (0: off)")]
    public int OverlongBufferLen { get; init; } = 0;
    [Description("DAPO's soft overlong punishment: the penalty at rollout.max_new_tokens")]
    public double OverlongPenaltyFactor { get; init; } = 1.0;
}
