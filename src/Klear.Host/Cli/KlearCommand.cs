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
        SetAction(parsed =>
        {
            if (UsesTorch) Model.MklDispatch.PreferIntelKernels();   // before the command's first GEMM
            return Run(parsed);
        });
    }

    /// <summary>
    /// Whether the command computes with tensors. Seeding MKL's kernels loads libtorch (about 1 s), so the commands
    /// that never touch it (verifier, sandbox, data, tokenizer, config) say false and start in a third of a second.
    /// </summary>
    protected virtual bool UsesTorch => true;

    /// <summary>The words that select the command, e.g. "loss inspect".</summary>
    public string FullName { get; }

    /// <summary>Runs the command on a parse without errors; the return value is the process exit code.</summary>
    protected abstract int Run(ParseResult parsed);
}
