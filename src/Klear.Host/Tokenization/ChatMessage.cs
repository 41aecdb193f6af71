namespace Klear.Host.Tokenization;

/// <summary>One turn of a conversation: role is <c>system</c>, <c>user</c> or <c>assistant</c>. An assistant turn's
/// reasoning is either written in its content between <c>&lt;think&gt;</c> tags or given apart as
/// <paramref name="ReasoningContent"/> (Hugging Face's <c>reasoning_content</c>), which then wins.</summary>
public sealed record ChatMessage(string Role, string Content, string? ReasoningContent = null);
