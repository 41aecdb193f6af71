using System.Text;

namespace Klear.Host.Tokenization;

/// <summary>
/// Qwen3's chat format, as its tokenizer_config.json template renders conversations without tools: each turn is
/// <c>&lt;|im_start|&gt;role\ncontent&lt;|im_end|&gt;\n</c>; assistant reasoning sits in <c>&lt;think&gt;...&lt;/think&gt;</c>
/// and is kept only for assistant turns after the last user message (earlier turns keep their answers only, as the
/// model saw them in training); the generation prompt opens an assistant turn, and thinking disabled pre-fills an empty
/// think block. The string splitting follows the Jinja template step by step, so rendered prompts match token for token.
/// A user message that is a tool response (wrapped in <c>&lt;tool_response&gt;</c> tags) does not count as the last user
/// message, as in the template; tool definitions and tool calls are not rendered.
/// </summary>
public static class Qwen3ChatTemplate
{
    public const string ImStart = "<|im_start|>";
    public const string ImEnd = "<|im_end|>";
    public const string ThinkOpen = "<think>";
    public const string ThinkClose = "</think>";

    public static string Render(IReadOnlyList<ChatMessage> messages, bool addGenerationPrompt = true, bool enableThinking = true)
    {
        int lastUser = LastQuery(messages);
        var text = new StringBuilder();
        for (int i = 0; i < messages.Count; i++)
        {
            var m = messages[i];
            if (m.Role is not ("system" or "user" or "assistant"))
                throw new ArgumentException($"Qwen3ChatTemplate: message {i} has role '{m.Role}' (system, user or assistant)", nameof(messages));
            var content = m.Content;
            if (m.Role == "assistant")
            {
                // The template's own split: reasoning = before the first </think>, after the last <think> before it;
                // answer = after the last </think>. Only newlines are trimmed (Python's lstrip('\n')), never spaces.
                string reasoning = "";
                if (m.ReasoningContent is { } given) reasoning = given;
                else if (content.LastIndexOf(ThinkClose, StringComparison.Ordinal) is var close and >= 0)
                {
                    var before = content[..content.IndexOf(ThinkClose, StringComparison.Ordinal)].TrimEnd('\n');
                    int open = before.LastIndexOf(ThinkOpen, StringComparison.Ordinal);
                    reasoning = (open >= 0 ? before[(open + ThinkOpen.Length)..] : before).TrimStart('\n');
                    content = content[(close + ThinkClose.Length)..].TrimStart('\n');
                }
                bool showThinking = i > lastUser && (i == messages.Count - 1 || reasoning.Length > 0);
                if (showThinking) content = $"{ThinkOpen}\n{reasoning.Trim('\n')}\n{ThinkClose}\n\n{content.TrimStart('\n')}";
            }
            text.Append(ImStart).Append(m.Role).Append('\n').Append(content).Append(ImEnd).Append('\n');
        }
        if (addGenerationPrompt)
        {
            text.Append(ImStart).Append("assistant\n");
            if (!enableThinking) text.Append(ThinkOpen).Append("\n\n").Append(ThinkClose).Append("\n\n");
        }
        return text.ToString();
    }

    /// <summary>The template's last_query_index: the last user message that is not a tool response, else the last message.</summary>
    static int LastQuery(IReadOnlyList<ChatMessage> messages)
    {
        for (int i = messages.Count - 1; i >= 0; i--)
            if (messages[i] is { Role: "user", Content: var c }
                && !(c.StartsWith("<tool_response>", StringComparison.Ordinal) && c.EndsWith("</tool_response>", StringComparison.Ordinal)))
                return i;
        return messages.Count - 1;
    }

    /// <summary>
    /// Splits a response into its reasoning (between <c>&lt;think&gt;</c> and <c>&lt;/think&gt;</c>, null when there is
    /// no closing tag) and the answer after it; a trailing <c>&lt;|im_end|&gt;</c> is dropped.
    /// </summary>
    public static (string? Thinking, string Answer) SplitThinking(string response)
    {
        var text = response.EndsWith(ImEnd, StringComparison.Ordinal) ? response[..^ImEnd.Length] : response;
        int close = text.IndexOf(ThinkClose, StringComparison.Ordinal);
        if (close < 0) return (null, text);
        int open = text.LastIndexOf(ThinkOpen, close, StringComparison.Ordinal);
        var thinking = open >= 0 ? text[(open + ThinkOpen.Length)..close] : text[..close];
        return (thinking, text[(close + ThinkClose.Length)..]);
    }
}
