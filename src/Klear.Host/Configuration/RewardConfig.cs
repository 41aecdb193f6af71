namespace Klear.Host.Configuration;

/// <summary>Rule rewards of the released recipe: ±1 for the answer, penalties for a broken think block.</summary>
public sealed record RewardConfig
{
    public double Correct { get; init; } = 1.0;
    public double Wrong { get; init; } = -1.0;
    /// <summary>Reward when <c>&lt;/think&gt;</c> is missing.</summary>
    public double MissingThinkClose { get; init; } = -0.5;
    /// <summary>Reward when <c>&lt;think&gt;</c> is missing.</summary>
    public double MissingThinkOpen { get; init; } = -2.0;
    /// <summary>Code reward: "ratio" (pass ratio, the paper's soft reward), "signed" (2·ratio − 1, the released code),
    /// "hard" (all-or-nothing).</summary>
    public string CodeMode { get; init; } = "ratio";
    /// <summary>How the code reward's sandbox starts programs: "warm" (a long-lived worker per core forks each run;
    /// ≈ 5× the throughput) or "cold" (a fresh sandbox and interpreter per run). Both isolate runs alike.</summary>
    public string SandboxMode { get; init; } = "warm";
}
