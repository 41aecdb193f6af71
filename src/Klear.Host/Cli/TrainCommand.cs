using System.CommandLine;
using System.Text.Json;
using System.Text;
using Klear.Host.Configuration;
using Klear.Host.Distributed;
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
    readonly RanksOption _ranks;

    public TrainCommand() : base("train", "SFT + RL from a YAML config and key=value overrides; --resume RUN_DIR")
    {
        Add(_resume);
        _config = new RunConfigOptions(this);
        _ranks = new RanksOption(this);
    }

    protected override int Run(ParseResult parsed)
    {
        if (parsed.GetValue(_resume) is null) _config.Bind(parsed);   // bad settings fail here, before any rank starts
        if (_ranks.RelaunchIfAsked(parsed) is { } exitCode) return exitCode;
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

    /// <summary>
    /// Runs <paramref name="config"/> as one process, or as one rank of an <c>mpiexec</c> job (docs/distributed.md):
    /// then rank 0 makes the run directory and prints, every rank trains its share, and a rank that fails ends the
    /// whole job at once (MPI_Abort) with an error naming it.
    /// </summary>
    public static int Execute(RunConfig config, RunDirectory? dir)
    {
        var launch = MpiLaunch.FromEnvironment();
        // Rank 0 speaks for the job; the others' stdout would repeat it (errors still go to stderr).
        if (launch is { Rank: > 0 }) Console.SetOut(TextWriter.Null);
        TrainingRun run;
        try { run = new TrainingRun(config, ProgressBar.Output); }
        catch (ConfigException e) { throw new UsageException(e.Message); }
        var world = MpiLaunch.Join(launch);
        if (world is MpiCollectives mpi0 && config.Trainer.CollectiveTimeoutSeconds > 0)
            mpi0.Timeout = TimeSpan.FromSeconds(config.Trainer.CollectiveTimeoutSeconds);
        try
        {
            if (world.Size > 1)
            {
                Console.Error.WriteLine($"klear: rank {world.Rank} of {world.Size} is pid {Environment.ProcessId} on {Environment.MachineName}");
                if (world.Rank == 0) Console.WriteLine($"data parallel: {world.Size} ranks (MPI), {config.Threads} intra-op thread(s) each");
            }
            var path = world.Rank == 0 ? (dir ?? RunDirectory.Create(config, config.Data.Task, run.Derived)).Path : "";
            dir = new RunDirectory(Encoding.UTF8.GetString(world.Broadcast(Encoding.UTF8.GetBytes(path))));
            Console.WriteLine($"run directory: {dir.Path}");
            var report = run.Run(dir, world);
            Console.WriteLine(report.ToJsonString(new JsonSerializerOptions { WriteIndented = true }));
            Console.WriteLine($"report: {Path.Combine(dir.Path, "report.json")}\nchart:  {Path.Combine(dir.Path, "chart.html")}");
            (world as IDisposable)?.Dispose();
            return 0;
        }
        catch (Exception e) when (world is MpiCollectives mpi)
        {
            Console.Error.WriteLine($"klear: rank {mpi.Rank} of {mpi.Size} failed, ending all {mpi.Size} ranks: {e.GetType().Name}: {e.Message}");
            Console.Error.WriteLine(e.StackTrace);
            mpi.Abort(e is ConfigException or UsageException or FileNotFoundException or InvalidDataException ? 2 : 1);
            throw;
        }
        catch (ConfigException e) { throw new UsageException(e.Message); }
    }
}
