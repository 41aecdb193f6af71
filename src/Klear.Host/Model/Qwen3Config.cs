using System.Text.Json;
using System.Text.Json.Serialization;

namespace Klear.Host.Model;

/// <summary>
/// A Qwen3 decoder's shape, bound to the keys of a Hugging Face <c>config.json</c>. Keys Klear does not interpret
/// (token ids, <c>torch_dtype</c>, <c>transformers_version</c>, ...) are kept in <see cref="Extra"/> and written back.
/// </summary>
public sealed record Qwen3Config
{
    [JsonPropertyName("vocab_size")] public int VocabSize { get; init; }
    [JsonPropertyName("hidden_size")] public int HiddenSize { get; init; }
    [JsonPropertyName("intermediate_size")] public int IntermediateSize { get; init; }
    [JsonPropertyName("num_hidden_layers")] public int NumHiddenLayers { get; init; }
    [JsonPropertyName("num_attention_heads")] public int NumAttentionHeads { get; init; }
    [JsonPropertyName("num_key_value_heads")] public int NumKeyValueHeads { get; init; }

    /// <summary>Qwen3 sets it explicitly (128 for every size), so it need not be hidden / heads.</summary>
    [JsonPropertyName("head_dim")] public int? HeadDimOverride { get; init; }

    [JsonPropertyName("rms_norm_eps")] public double RmsNormEps { get; init; } = 1e-6;
    [JsonPropertyName("rope_theta")] public double RopeTheta { get; init; } = 1_000_000;
    [JsonPropertyName("rope_scaling")] public RopeScaling? RopeScaling { get; init; }
    [JsonPropertyName("max_position_embeddings")] public int MaxPositionEmbeddings { get; init; } = 40_960;
    [JsonPropertyName("tie_word_embeddings")] public bool TieWordEmbeddings { get; init; }
    [JsonPropertyName("attention_bias")] public bool AttentionBias { get; init; }
    [JsonPropertyName("hidden_act")] public string HiddenAct { get; init; } = "silu";
    [JsonPropertyName("initializer_range")] public double InitializerRange { get; init; } = 0.02;
    [JsonPropertyName("model_type")] public string ModelType { get; init; } = "qwen3";

    [JsonExtensionData] public Dictionary<string, JsonElement>? Extra { get; set; }

    [JsonIgnore] public int HeadDim => HeadDimOverride ?? HiddenSize / NumAttentionHeads;

    static readonly JsonSerializerOptions JsonOptions = new() { WriteIndented = true };

    public static Qwen3Config FromJson(string json) =>
        JsonSerializer.Deserialize<Qwen3Config>(json, JsonOptions) ?? throw new JsonException("config.json is null");

    public string ToJson() => JsonSerializer.Serialize(this, JsonOptions);

    /// <summary>The quickstart's model: 3 layers, d_model 128, 4 heads, tied embeddings, 23 tokens, context 96.</summary>
    public static Qwen3Config Tiny(int vocabSize = 23) => new()
    {
        VocabSize = vocabSize, HiddenSize = 128, IntermediateSize = 512, NumHiddenLayers = 3,
        NumAttentionHeads = 4, NumKeyValueHeads = 4, HeadDimOverride = 32, MaxPositionEmbeddings = 128,
        RopeTheta = 10_000, TieWordEmbeddings = true,
    };

    /// <summary>The model <c>klear model bench</c> and its PyTorch peer measure: 4 layers, hidden 256, 4 heads,
    /// 2 KV heads, vocab 512.</summary>
    public static Qwen3Config Bench() => new()
    {
        VocabSize = 512, HiddenSize = 256, IntermediateSize = 1024, NumHiddenLayers = 4,
        NumAttentionHeads = 4, NumKeyValueHeads = 2, HeadDimOverride = 64, MaxPositionEmbeddings = 1024,
        RopeTheta = 10_000, TieWordEmbeddings = false,
    };

    /// <summary>
    /// This config with YaRN context extension by <paramref name="factor"/> over <paramref name="originalMaxPositions"/>
    /// (null: <c>max_position_embeddings</c>), replacing any rope_scaling it had: how a checkpoint trained without one is
    /// evaluated on longer contexts (the paper's 64K evaluation of a 32K model: factor 2 over 32,768).
    /// </summary>
    public Qwen3Config WithYarn(double factor, int? originalMaxPositions) => this with
    {
        RopeScaling = new RopeScaling { RopeType = "yarn", Factor = factor, OriginalMaxPositionEmbeddings = originalMaxPositions },
    };

    /// <summary>Throws naming the first key whose value the model cannot be built from.</summary>
    public void Validate()
    {
        static void Positive(int v, string key) { if (v <= 0) throw new ArgumentException($"config.json: {key} must be positive, got {v}"); }
        Positive(VocabSize, "vocab_size");
        Positive(HiddenSize, "hidden_size");
        Positive(IntermediateSize, "intermediate_size");
        Positive(NumHiddenLayers, "num_hidden_layers");
        Positive(NumAttentionHeads, "num_attention_heads");
        Positive(NumKeyValueHeads, "num_key_value_heads");
        Positive(HeadDim, "head_dim");
        Positive(MaxPositionEmbeddings, "max_position_embeddings");
        if (NumAttentionHeads % NumKeyValueHeads != 0)
            throw new ArgumentException($"config.json: num_attention_heads ({NumAttentionHeads}) must be a multiple of num_key_value_heads ({NumKeyValueHeads})");
        if (HeadDim % 2 != 0) throw new ArgumentException($"config.json: head_dim must be even for rotary embeddings, got {HeadDim}");
        if (HiddenAct != "silu") throw new ArgumentException($"config.json: hidden_act '{HiddenAct}' is not supported (Qwen3 uses silu)");
        if (Extra is not null && Extra.TryGetValue("use_sliding_window", out var sw) && sw.ValueKind == JsonValueKind.True)
            throw new ArgumentException("config.json: use_sliding_window=true is not supported");
        if (RopeScaling is { } rs)
        {
            if (rs.Kind is not ("default" or "yarn"))
                throw new ArgumentException($"config.json: rope_scaling type '{rs.Kind}' is not supported (default, yarn)");
            if (rs.Kind == "yarn" && rs.Factor is not > 0)
                throw new ArgumentException("config.json: rope_scaling.factor must be positive for yarn");
        }
    }
}
