using System.CommandLine;

namespace Klear.Host.Cli;

/// <summary>
/// <c>klear quickstart</c>: from nothing to a tiny policy that learned the built-in arithmetic task by SFT and then
/// improved by GPPO RL, on CPU in minutes. Built-in defaults (RunConfig) with the SFT stop of
/// <see cref="QuickstartRecipe"/>; any key can be overridden (<c>klear quickstart sft.stop_at_accuracy=0 actor.lr=2e-5</c>).
/// Prints where the run directory and report are.
/// </summary>
public sealed class QuickstartCommand : KlearCommand
{
    readonly RunConfigOptions _config;
    readonly RanksOption _ranks;

    public QuickstartCommand() : base("quickstart", "SFT + GPPO RL on the built-in arithmetic task, with report and chart (the built-in defaults, with SFT stopping once the policy solves 40% of RL prompts greedily: " + string.Join(" ", QuickstartRecipe.Overrides) + ")")
    {
        _config = new RunConfigOptions(this);
        _ranks = new RanksOption(this, defaultRanks: 2);   // both cores of the 2-core machines README measures; fixed at 2 so the numbers do not depend on the core count
    }

    protected override int Run(ParseResult parsed)
    {
        var config = _config.Bind(parsed, QuickstartRecipe.Overrides);   // bad settings fail here, before any rank starts
        return _ranks.RelaunchIfAsked(parsed) ?? TrainCommand.Execute(config, null);
    }
}
