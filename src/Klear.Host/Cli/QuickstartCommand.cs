using Klear.Host.Configuration;
using Klear.Host.Training;

namespace Klear.Host.Cli;

/// <summary>
/// <c>klear quickstart</c>: from nothing to a tiny policy that learned the built-in arithmetic task by SFT and then
/// improved by GPPO RL, on CPU in minutes. Built-in defaults (RunConfig); any key can be overridden
/// (<c>klear quickstart sft.steps=300 actor.lr=2e-5</c>). Prints where the run directory and report are.
/// </summary>
public sealed class QuickstartCommand : ICommand
{
    public string Name => "quickstart";
    public string Summary => "SFT + GPPO RL on the built-in arithmetic task, with report and chart";

    public int Run(CliArgs args)
    {
        var config = TrainCommand.BindConfig(args);
        args.RejectUnknown();
        return TrainCommand.Execute(config, null);
    }
}
