namespace Klear.Host.Tokenization;

/// <summary>One turn of a conversation: role is <c>system</c>, <c>user</c> or <c>assistant</c>.</summary>
public sealed record ChatMessage(string Role, string Content);
