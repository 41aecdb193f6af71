namespace Klear.Host.Training;

/// <summary>A prompt (rendered text) and the teacher response to imitate.</summary>
public sealed record SftExample(string Prompt, string Response);
