using System.ComponentModel;

namespace Klear.Host.Configuration;

/// <summary>Sampling of RL rollouts.</summary>
public sealed record RolloutConfig
{
    [Description("Rollouts per prompt (the group size; at least 2)")]
    public int N { get; init; } = 8;
    [Description("Sampling temperature")]
    public double Temperature { get; init; } = 1.0;
    [Description("Nucleus sampling threshold (1: off)")]
    public double TopP { get; init; } = 1.0;
    [Description("Keep only the k most likely tokens (0: off)")]
    public int TopK { get; init; } = 0;
    [Description("Longest response, in tokens")]
    public int MaxNewTokens { get; init; } = 64;
    [Description("Weights and KV cache rollouts are sampled with: fp32 (the policy itself) | bf16 (a copy made each step; faster on a CPU with AVX512-BF16, half the cache; old log-probs are still recomputed in fp32)")]
    public string Dtype { get; init; } = "fp32";
}
