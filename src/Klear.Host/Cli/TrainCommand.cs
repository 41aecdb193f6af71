using System.CommandLine;
using System.Text.Json;
using Klear.Host.Configuration;
using Klear.Host.Metrics;
using Klear.Host.Training;

namespace Klear.Host.Cli;

/// <summary>
/// <c>klear train [--config FILE.yaml] [key=value ...]</c> runs SFT then RL as configured;
/// <c>klear train --resume RUN_DIR</c> continues a run from its latest checkpoint with the config stored in it.
/// </summary>
public sealed class TrainCommand : KlearCommand
{
    readonly Option<string> _resume = CliOption.Text("--resume", "continue this run directory from its latest checkpoint, with its stored config");
    readonly RunConfigOptions _config;

    public TrainCommand() : base("train", "SFT + RL from a YAML config and key=value overrides; --resume RUN_DIR")
    {
        Add(_resume);
        _config = new RunConfigOptions(this);
    }

    protected override int Run(ParseResult parsed)
    {
        if (parsed.GetValue(_resume) is { } runDir)
        {
            // The stored config is the run's: changing it halfway would not repeat the uninterrupted run.
            if (_config.AnyGiven(parsed)) throw new UsageException("--resume takes no other options or overrides: the run's stored config is used");
            var latest = TrainingCheckpoint.Latest(Path.Combine(runDir, "checkpoints"))
                ?? throw new UsageException($"{runDir} has no checkpoint to resume from");
            var config = ConfigBinder.Bind<RunConfig>(Path.Combine(latest, "config.yaml"), []);
            return Execute(config, new RunDirectory(Path.GetFullPath(runDir)));
        }
        return Execute(_config.Bind(parsed), null);
    }

    public static int Execute(RunConfig config, RunDirectory? dir)
    {
        try
        {
            var run = new TrainingRun(config, ProgressBar.Output);
            dir ??= RunDirectory.Create(config, config.Data.Task, run.Derived);
            Console.WriteLine($"run directory: {dir.Path}");
            var report = run.Run(dir);
            Console.WriteLine(report.ToJsonString(new JsonSerializerOptions { WriteIndented = true }));
            Console.WriteLine($"report: {Path.Combine(dir.Path, "report.json")}\nchart:  {Path.Combine(dir.Path, "chart.html")}");
            return 0;
        }
        catch (ConfigException e) { throw new UsageException(e.Message); }
    }
}
