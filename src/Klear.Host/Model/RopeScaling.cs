using System.Text.Json;
using System.Text.Json.Serialization;

namespace Klear.Host.Model;

/// <summary>
/// The <c>rope_scaling</c> object of a Hugging Face config. Only YaRN changes the frequencies here; keys Klear does not
/// interpret are kept in <see cref="Extra"/> so a config survives a load/save round trip unchanged.
/// </summary>
public sealed record RopeScaling
{
    /// <summary>Older configs spell the kind <c>type</c>, newer ones <c>rope_type</c>; either may be present.</summary>
    [JsonPropertyName("type")]
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public string? Type { get; init; }

    [JsonPropertyName("rope_type")]
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public string? RopeType { get; init; }

    /// <summary>Context extension factor (the paper's 64K evaluation: 2.5 over 32,768).</summary>
    [JsonPropertyName("factor")]
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public double? Factor { get; init; }

    /// <summary>Pre-extension context length; falls back to <c>max_position_embeddings</c> when absent.</summary>
    [JsonPropertyName("original_max_position_embeddings")]
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public int? OriginalMaxPositionEmbeddings { get; init; }

    [JsonPropertyName("beta_fast")]
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public double? BetaFast { get; init; }

    [JsonPropertyName("beta_slow")]
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public double? BetaSlow { get; init; }

    /// <summary>Overrides YaRN's default attention (cos/sin) scaling 0.1 ln(factor) + 1.</summary>
    [JsonPropertyName("attention_factor")]
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public double? AttentionFactor { get; init; }

    [JsonExtensionData]
    public Dictionary<string, JsonElement>? Extra { get; set; }

    [JsonIgnore]
    public string Kind => RopeType ?? Type ?? "default";
}
