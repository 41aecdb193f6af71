using System.CommandLine;

namespace Klear.Host.Cli;

/// <summary>
/// One runnable <c>klear</c> command, e.g. <c>loss inspect</c>: a subclass declares its options as fields, adds them in
/// its constructor and reads them in <see cref="Run"/>. The leading words of <see cref="FullName"/> are the groups
/// (<c>loss</c>) that <see cref="KlearCli"/> makes, so adding a command is one file and one line in Program.cs.
/// </summary>
public abstract class KlearCommand : Command
{
    protected KlearCommand(string fullName, string description) : base(fullName.Split(' ')[^1], description)
    {
        FullName = fullName;
        SetAction(parsed => Run(parsed));
    }

    /// <summary>The words that select the command, e.g. "loss inspect".</summary>
    public string FullName { get; }

    /// <summary>Runs the command on a parse without errors; the return value is the process exit code.</summary>
    protected abstract int Run(ParseResult parsed);
}
