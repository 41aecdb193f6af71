namespace Klear.Host.Configuration;

/// <summary>Evaluation: k samples per problem at the paper's T 0.6 / top-p 0.95, plus one greedy pass.</summary>
public sealed record EvalConfig
{
    public int K { get; init; } = 4;
    public double Temperature { get; init; } = 0.6;
    public double TopP { get; init; } = 0.95;
    public int TopK { get; init; } = 0;
    public int MaxNewTokens { get; init; } = 64;
    public bool Greedy { get; init; } = true;
    /// <summary>Problems per generation batch.</summary>
    public int BatchSize { get; init; } = 200;
}
