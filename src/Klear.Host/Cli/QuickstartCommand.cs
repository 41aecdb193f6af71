using System.CommandLine;

namespace Klear.Host.Cli;

/// <summary>
/// <c>klear quickstart</c>: from nothing to a tiny policy that learned the built-in arithmetic task by SFT and then
/// improved by GPPO RL, on CPU in minutes. Built-in defaults (RunConfig); any key can be overridden
/// (<c>klear quickstart sft.steps=300 actor.lr=2e-5</c>). Prints where the run directory and report are.
/// </summary>
public sealed class QuickstartCommand : KlearCommand
{
    readonly RunConfigOptions _config;
    readonly RanksOption _ranks;

    public QuickstartCommand() : base("quickstart", "SFT + GPPO RL on the built-in arithmetic task, with report and chart (on both cores: threads=2 unless set)")
    {
        _config = new RunConfigOptions(this);
        _ranks = new RanksOption(this);
    }

    /// <summary>
    /// One process uses both cores of this machine kind: 2 intra-op threads ran the quickstart in 291 s against
    /// 575–768 s with one (AMD EPYC Zen 3, docs/performance.md). The ranks of <c>--ranks N</c> keep RunConfig's one
    /// thread each, and <c>threads=N</c> (or a --config file's <c>threads</c>) wins over this default.
    /// </summary>
    public static int DefaultThreads => Math.Min(2, Environment.ProcessorCount);

    protected override int Run(ParseResult parsed)
    {
        string[] defaults = _ranks.Requested(parsed) > 1 || Distributed.MpiLaunch.FromEnvironment() is not null
            ? [] : [$"threads={DefaultThreads}"];
        var config = _config.Bind(parsed, defaults);   // bad settings fail here, before any rank starts
        return _ranks.RelaunchIfAsked(parsed) ?? TrainCommand.Execute(config, null);
    }
}
