using Klear.Host.Tokenization;
using System.Text.Json.Nodes;

namespace Klear.Host.Data;

/// <summary>
/// One row of a verl-format dataset: <c>data_source</c> picks the reward function, <c>prompt</c> holds the chat
/// messages, <c>reward_model.ground_truth</c> the answer (a string, or JSON text for code tests), plus the optional
/// <c>ability</c> and <c>extra_info</c>. <see cref="Origin"/> is "file:row" for error messages.
/// </summary>
public sealed record VerlRow(
    string DataSource,
    IReadOnlyList<ChatMessage> Prompt,
    string GroundTruth,
    string? Ability,
    JsonObject? ExtraInfo,
    string Origin)
{
    public JsonObject ToJson() => new()
    {
        ["data_source"] = DataSource,
        ["prompt"] = new JsonArray(Prompt.Select(m => (JsonNode)new JsonObject { ["role"] = m.Role, ["content"] = m.Content }).ToArray()),
        ["ability"] = Ability,
        ["reward_model"] = new JsonObject { ["style"] = "rule", ["ground_truth"] = GroundTruth },
        ["extra_info"] = ExtraInfo?.DeepClone(),
    };
}
