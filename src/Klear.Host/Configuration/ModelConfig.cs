namespace Klear.Host.Configuration;

/// <summary>The policy: a Hugging Face model directory, or a tiny Qwen3 built from these sizes.</summary>
public sealed record ModelConfig
{
    /// <summary>HF directory (config.json + safetensors); null builds the tiny model below.</summary>
    public string? Path { get; init; }
    /// <summary>Built-in vocabulary when the model directory has no tokenizer.json: "arithmetic" (23 tokens) or
    /// "ascii" (printable ASCII, for the synthetic code task).</summary>
    public string Tokenizer { get; init; } = "arithmetic";
    public int Layers { get; init; } = 3;
    public int Hidden { get; init; } = 128;
    public int Heads { get; init; } = 4;
    public int KvHeads { get; init; } = 4;
    /// <summary>SwiGLU width as a multiple of hidden.</summary>
    public int MlpRatio { get; init; } = 4;
    public bool TieEmbeddings { get; init; } = true;
    public double InitStd { get; init; } = 0.02;
    public int MaxPositions { get; init; } = 128;
}
