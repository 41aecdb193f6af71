using System.Text.Json.Nodes;
using Klear.Host.Tokenization;

namespace Klear.Host.Cli;

/// <summary>
/// One thing to tokenize: a plain text, or a conversation rendered with Qwen3's chat template first. Read from the
/// JSON a <c>klear tokenize --jsonl</c> line holds: <c>{"text": ...}</c> or <c>{"messages": [{role, content,
/// reasoning_content?}, ...], "add_generation_prompt": b, "enable_thinking": b}</c> (both flags optional: no generation
/// prompt, thinking on, as the template's own defaults); other members are ignored.
/// </summary>
public sealed record TokenizeRequest(string? Text, IReadOnlyList<ChatMessage>? Messages, bool AddGenerationPrompt, bool EnableThinking)
{
    /// <summary>The string the tokenizer encodes: the text, or the rendered conversation.</summary>
    public string Input => Text ?? Qwen3ChatTemplate.Render(Messages!, AddGenerationPrompt, EnableThinking);

    /// <summary>Reads one request; <paramref name="where"/> ("FILE: line 3") starts every error message.</summary>
    public static TokenizeRequest Parse(JsonNode? node, string where)
    {
        if (node is not JsonObject o) throw new UsageException($"{where}: expected a JSON object with \"text\" or \"messages\"");
        bool hasText = o.ContainsKey("text"), hasMessages = o.ContainsKey("messages");
        if (hasText == hasMessages) throw new UsageException($"{where}: expected exactly one of \"text\" and \"messages\"");
        if (hasText)
            return o["text"] is JsonValue v && v.TryGetValue<string>(out var text)
                ? new TokenizeRequest(text, null, false, true)
                : throw new UsageException($"{where}: \"text\" must be a string");
        return new TokenizeRequest(null, ParseMessages(o["messages"], where),
            Flag(o, "add_generation_prompt", false, where), Flag(o, "enable_thinking", true, where));
    }

    /// <summary>A list of {role, content} objects, roles system, user or assistant.</summary>
    public static IReadOnlyList<ChatMessage> ParseMessages(JsonNode? node, string where)
    {
        if (node is not JsonArray list) throw new UsageException($"{where}: \"messages\" must be a list of {{role, content}} objects");
        return list.Select((m, i) =>
        {
            string? Str(string field, bool optional)
            {
                var value = (m as JsonObject ?? throw new UsageException($"{where}: messages[{i}] is not an object"))[field];
                if (value is null && optional) return null;
                return value is JsonValue v && v.TryGetValue<string>(out var s) ? s
                    : throw new UsageException($"{where}: messages[{i}].{field} {(value is null ? "is missing" : "must be a string")}");
            }
            var role = Str("role", false)!;
            if (role is not ("system" or "user" or "assistant"))
                throw new UsageException($"{where}: messages[{i}].role is '{role}' (expected system, user or assistant; tools are not rendered)");
            return new ChatMessage(role, Str("content", false)!, Str("reasoning_content", true));
        }).ToList();
    }

    static bool Flag(JsonObject o, string name, bool fallback, string where) => o[name] switch
    {
        null => fallback,
        JsonValue v when v.TryGetValue<bool>(out var b) => b,
        _ => throw new UsageException($"{where}: \"{name}\" must be true or false"),
    };
}
