namespace Klear.Host.Rollout;

/// <summary>How the sampler draws each new token; applied in Hugging Face's order: temperature, top-k, top-p.</summary>
public sealed record SamplingOptions
{
    /// <summary>Softmax temperature; 0 means greedy (argmax), with log-probs then reported at temperature 1.</summary>
    public double Temperature { get; init; } = 1.0;

    /// <summary>Keep the smallest set of most likely tokens whose probability reaches TopP (1 = off).</summary>
    public double TopP { get; init; } = 1.0;

    /// <summary>Keep the K most likely tokens (0 = off).</summary>
    public int TopK { get; init; }

    /// <summary>Tokens that end a response (EOS, <c>&lt;|im_end|&gt;</c>, ...); the stop token is part of the response.</summary>
    public IReadOnlyList<int> StopTokenIds { get; init; } = [];

    public int MaxNewTokens { get; init; } = 256;

    /// <summary>Request i draws from its own generator seeded with Seed + i unless the caller passes per-request seeds.</summary>
    public long Seed { get; init; }

    /// <summary>Fills the left padding of shorter prompts; it is masked out, so any id in the vocabulary works.</summary>
    public int PadTokenId { get; init; }

    public void Validate()
    {
        if (!(Temperature >= 0) || double.IsInfinity(Temperature)) throw new ArgumentException($"SamplingOptions: Temperature must be >= 0, got {Temperature}");
        if (!(TopP > 0 && TopP <= 1)) throw new ArgumentException($"SamplingOptions: TopP must be in (0, 1], got {TopP}");
        if (TopK < 0) throw new ArgumentException($"SamplingOptions: TopK must be >= 0 (0 = off), got {TopK}");
        if (MaxNewTokens <= 0) throw new ArgumentException($"SamplingOptions: MaxNewTokens must be positive, got {MaxNewTokens}");
    }
}
