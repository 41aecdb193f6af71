namespace Klear.Host.Data;

/// <summary>One message of a chat prompt (verl's <c>prompt</c> column: a list of {role, content}).</summary>
public sealed record ChatMessage(string Role, string Content);
