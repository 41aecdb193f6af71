using System.Text;

namespace Klear.Host.Tokenization;

/// <summary>
/// Qwen3's chat format, as its tokenizer_config.json template renders conversations without tools: each turn is
/// <c>&lt;|im_start|&gt;role\ncontent&lt;|im_end|&gt;\n</c>; assistant reasoning sits in <c>&lt;think&gt;...&lt;/think&gt;</c>
/// and is kept only for assistant turns after the last user message (earlier turns keep their answers only, as the
/// model saw them in training); the generation prompt opens an assistant turn, and thinking disabled pre-fills an empty
/// think block. The string splitting follows the Jinja template step by step, so rendered prompts match token for token.
/// </summary>
public static class Qwen3ChatTemplate
{
    public const string ImStart = "<|im_start|>";
    public const string ImEnd = "<|im_end|>";
    public const string ThinkOpen = "<think>";
    public const string ThinkClose = "</think>";

    public static string Render(IReadOnlyList<ChatMessage> messages, bool addGenerationPrompt = true, bool enableThinking = true)
    {
        int lastUser = messages.Count - 1;
        for (int i = messages.Count - 1; i >= 0; i--)
            if (messages[i].Role == "user") { lastUser = i; break; }
        var text = new StringBuilder();
        for (int i = 0; i < messages.Count; i++)
        {
            var m = messages[i];
            if (m.Role is not ("system" or "user" or "assistant"))
                throw new ArgumentException($"Qwen3ChatTemplate: message {i} has role '{m.Role}' (system, user or assistant)", nameof(messages));
            var content = m.Content;
            if (m.Role == "assistant")
            {
                // The template's own split: reasoning = before the last </think>, after the last <think>; answer = after </think>.
                string reasoning = "";
                int close = content.LastIndexOf(ThinkClose, StringComparison.Ordinal);
                if (close >= 0)
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
