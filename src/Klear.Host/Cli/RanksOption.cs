using System.CommandLine;
using Klear.Host.Distributed;

namespace Klear.Host.Cli;

/// <summary>
/// <c>--ranks N</c> of <c>train</c> and <c>quickstart</c>: run the job as N processes on this machine through MPICH
/// (<see cref="MpiExec"/>), or as one process with a one-line notice when MPICH is not installed.
/// </summary>
public sealed class RanksOption
{
    readonly Option<int> _ranks;

    /// <param name="defaultRanks">Ranks when --ranks is not given; above 1 it applies only where the machine has that
    /// many cores (a job of more ranks than cores only waits on itself).</param>
    public RanksOption(Command command, int defaultRanks = 1)
    {
        var help = "processes on this machine: N > 1 starts N data-parallel ranks under MPICH's mpiexec (each with `threads` intra-op threads); without mpich installed, one process";
        if (defaultRanks > 1) help += $" (default: {defaultRanks} where the machine has {defaultRanks} cores and mpich, else 1)";
        _ranks = CliOption.Int("--ranks", help, defaultRanks);
        command.Add(_ranks);
    }

    /// <summary>The job's exit code when this process started it under mpiexec; null when this process does the work
    /// itself (one rank asked for, already a rank of a launched job, or no MPICH).</summary>
    public int? RelaunchIfAsked(ParseResult parsed)
    {
        int ranks = parsed.GetValue(_ranks);
        if (ranks < 1) throw new UsageException($"--ranks must be at least 1, got {ranks}");
        if (ranks == 1 || MpiLaunch.FromEnvironment() is not null) return null;
        var given = parsed.GetResult(_ranks) is { Implicit: false };
        if (!given && Environment.ProcessorCount < ranks) return null;
        if (!MpiExec.Available)
        {
            Console.Error.WriteLine(given
                ? $"klear: --ranks {ranks} needs MPICH ({MpiExec.Launcher}; apt-get install mpich): running as one process"
                : $"klear: running as one process; with MPICH installed (apt-get install mpich) this runs as {ranks} ranks, one per core (--ranks 1 keeps one process)");
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
