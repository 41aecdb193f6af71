namespace Klear.Host.Cli;

/// <summary>A user error on the command line or in an input file; the CLI prints the message and exits 2.</summary>
public sealed class UsageException(string message) : Exception(message);
