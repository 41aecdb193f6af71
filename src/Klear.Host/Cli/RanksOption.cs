using System.CommandLine;
using Klear.Host.Distributed;

namespace Klear.Host.Cli;

/// <summary>
/// <c>--ranks N</c> of <c>train</c> and <c>quickstart</c>: run the job as N processes on this machine through MPICH
/// (<see cref="MpiExec"/>), or as one process with a one-line notice when MPICH is not installed.
/// </summary>
public sealed class RanksOption
{
    readonly Option<int> _ranks = CliOption.Int("--ranks", "processes on this machine: N > 1 starts N data-parallel ranks under MPICH's mpiexec (each with `threads` intra-op threads); without mpich installed, one process", 1);

    public RanksOption(Command command) => command.Add(_ranks);

    /// <summary>The job's exit code when this process started it under mpiexec; null when this process does the work
    /// itself (one rank asked for, already a rank of a launched job, or no MPICH).</summary>
    public int? RelaunchIfAsked(ParseResult parsed)
    {
        int ranks = parsed.GetValue(_ranks);
        if (ranks < 1) throw new UsageException($"--ranks must be at least 1, got {ranks}");
        if (ranks == 1 || MpiLaunch.FromEnvironment() is not null) return null;
        if (!MpiExec.Available)
        {
            Console.Error.WriteLine($"klear: --ranks {ranks} needs MPICH ({MpiExec.Launcher}; apt-get install mpich): running as one process");
            return null;
        }
        return MpiExec.Run(ranks, WithoutRanks(Environment.GetCommandLineArgs().Skip(1)));
    }

    /// <summary>The command line without <c>--ranks N</c> / <c>--ranks=N</c>, so the ranks do not start ranks again.</summary>
    static IEnumerable<string> WithoutRanks(IEnumerable<string> arguments)
    {
        bool skipValue = false;
        foreach (var a in arguments)
        {
            if (skipValue) { skipValue = false; continue; }
            if (a == "--ranks") { skipValue = true; continue; }
            if (a.StartsWith("--ranks=", StringComparison.Ordinal)) continue;
            yield return a;
        }
    }
}
