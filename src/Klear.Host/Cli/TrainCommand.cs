using Klear.Host.Configuration;
using System.Text.Json;
using Klear.Host.Training;

namespace Klear.Host.Cli;

/// <summary>
/// <c>klear train [--config FILE.yaml] [key=value ...]</c> runs SFT then RL as configured;
/// <c>klear train --resume RUN_DIR</c> continues a run from its latest checkpoint with the config stored in it.
/// </summary>
public sealed class TrainCommand : ICommand
{
    public string Name => "train";
    public string Summary => "SFT + RL from a YAML config and key=value overrides; --resume RUN_DIR";

    public int Run(CliArgs args)
    {
        if (args.String("resume") is { } runDir)
        {
            args.RejectUnknown();
            var latest = TrainingCheckpoint.Latest(Path.Combine(runDir, "checkpoints"))
                ?? throw new UsageException($"{runDir} has no checkpoint to resume from");
            var config = ConfigBinder.Bind<RunConfig>(Path.Combine(latest, "config.yaml"), []);
            return Execute(config, new RunDirectory(Path.GetFullPath(runDir)));
        }
        var fresh = BindConfig(args);
        args.RejectUnknown();
        return Execute(fresh, null);
    }

    /// <summary>Reads --config, --seed, --output-dir and the overrides; errors name the key.</summary>
    public static RunConfig BindConfig(CliArgs args)
    {
        var overrides = new List<string>(args.Overrides);
        if (args.String("seed") is { } seed) overrides.Add($"seed={seed}");
        if (args.String("output-dir") is { } output) overrides.Add($"output_dir={output}");
        try { return ConfigBinder.Bind<RunConfig>(args.String("config"), overrides); }
        catch (ConfigException e) { throw new UsageException(e.Message); }
    }

    public static int Execute(RunConfig config, RunDirectory? dir)
    {
        try
        {
            var run = new TrainingRun(config, Console.Out);
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
