namespace Klear.Host.Cli;

/// <summary>One <c>klear</c> sub-command, e.g. <c>loss inspect</c>.</summary>
public interface ICommand
{
    /// <summary>The words that select the command, e.g. "loss inspect".</summary>
    string Name { get; }
    string Summary { get; }
    /// <summary>Runs the command; the return value is the process exit code.</summary>
    int Run(CliArgs args);
}
