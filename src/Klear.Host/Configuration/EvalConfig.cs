using System.ComponentModel;

namespace Klear.Host.Configuration;

/// <summary>Evaluation: k samples per problem at the paper's T 0.6 / top-p 0.95, plus one greedy pass.</summary>
public sealed record EvalConfig
{
    [Description("Samples per problem (avg@k, pass@k, majority@k)")]
    public int K { get; init; } = 4;
    [Description("Sampling temperature of the k samples")]
    public double Temperature { get; init; } = 0.6;
    [Description("Nucleus sampling threshold (1: off)")]
    public double TopP { get; init; } = 0.95;
    [Description("Keep only the k most likely tokens (0: off)")]
    public int TopK { get; init; } = 0;
    [Description("Longest response, in tokens")]
    public int MaxNewTokens { get; init; } = 64;
    [Description("Also run one greedy pass")]
    public bool Greedy { get; init; } = true;
    [Description("Problems per generation batch")]
    public int BatchSize { get; init; } = 200;
    [Description("Weights and KV cache evaluation samples with: fp32 (the model itself) | bf16 (a copy for the evaluation)")]
    public string Dtype { get; init; } = "fp32";
}
