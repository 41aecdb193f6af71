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

    public QuickstartCommand() : base("quickstart", "SFT + GPPO RL on the built-in arithmetic task, with report and chart")
    {
        _config = new RunConfigOptions(this);
        _ranks = new RanksOption(this);
    }

    protected override int Run(ParseResult parsed)
    {
        var config = _config.Bind(parsed);   // bad settings fail here, before any rank starts
        return _ranks.RelaunchIfAsked(parsed) ?? TrainCommand.Execute(config, null);
    }
}
