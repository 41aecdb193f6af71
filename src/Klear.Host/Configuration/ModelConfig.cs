using System.ComponentModel;

namespace Klear.Host.Configuration;

/// <summary>The policy: a Hugging Face model directory, or a tiny Qwen3 built from these sizes.</summary>
public sealed record ModelConfig
{
    [Description("Hugging Face directory (config.json + safetensors); null builds the tiny model below")]
    public string? Path { get; init; }
    [Description("Built-in vocabulary when the model directory has no tokenizer.json: arithmetic (23 tokens) | ascii (printable ASCII, for the synthetic code task)")]
    public string Tokenizer { get; init; } = "arithmetic";
    [Description("Transformer layers")]
    public int Layers { get; init; } = 3;
    [Description("Hidden size")]
    public int Hidden { get; init; } = 128;
    [Description("Attention heads (must divide hidden)")]
    public int Heads { get; init; } = 4;
    [Description("Key/value heads (must divide heads)")]
    public int KvHeads { get; init; } = 4;
    [Description("SwiGLU width as a multiple of hidden")]
    public int MlpRatio { get; init; } = 4;
    [Description("Share the input embedding with the output head")]
    public bool TieEmbeddings { get; init; } = true;
    [Description("Standard deviation of the initial weights")]
    public double InitStd { get; init; } = 0.02;
    [Description("Longest sequence (prompt + response), in tokens")]
    public int MaxPositions { get; init; } = 128;
    [Description("Where the model, its gradients, AdamW state and KV cache live: cpu | cuda | cuda:N (needs the CUDA libtorch package, README \"CUDA\")")]
    public string Device { get; init; } = "cpu";
    [Description("YaRN context extension factor applied to the model (train and eval), replacing its config.json rope_scaling: e.g. 2 evaluates a 32K checkpoint at 64K; null: the model's own")]
    public double? YarnFactor { get; init; }
    [Description("Context length YaRN extends (original_max_position_embeddings; Qwen3: 32768); null: the model's max_position_embeddings")]
    public int? YarnOriginalMaxPositions { get; init; }
}
