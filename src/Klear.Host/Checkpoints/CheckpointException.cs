namespace Klear.Host.Checkpoints;

/// <summary>A checkpoint directory or file that cannot be loaded; the message names the file and the tensor.</summary>
public sealed class CheckpointException(string message) : Exception(message);
