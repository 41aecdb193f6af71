namespace Klear.Host.Configuration;

/// <summary>Sampling of RL rollouts.</summary>
public sealed record RolloutConfig
{
    /// <summary>Rollouts per prompt (the group size).</summary>
    public int N { get; init; } = 8;
    public double Temperature { get; init; } = 1.0;
    public double TopP { get; init; } = 1.0;
    public int TopK { get; init; } = 0;
    public int MaxNewTokens { get; init; } = 64;
}
