namespace Klear.Host.Distributed;

/// <summary>An MPI call failed, or the job was launched in a way the MPI backend cannot run.</summary>
public sealed class MpiException(string message) : Exception(message);
