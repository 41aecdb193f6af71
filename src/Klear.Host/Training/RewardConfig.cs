namespace Klear.Host.Training;

/// <summary>Rule rewards of the released recipe: ±1 for the answer, penalties for a broken think block.</summary>
public sealed record RewardConfig
{
    public double Correct { get; init; } = 1.0;
    public double Wrong { get; init; } = -1.0;
    /// <summary>Reward when <c>&lt;/think&gt;</c> is missing.</summary>
    public double MissingThinkClose { get; init; } = -0.5;
    /// <summary>Reward when <c>&lt;think&gt;</c> is missing.</summary>
    public double MissingThinkOpen { get; init; } = -2.0;
}
