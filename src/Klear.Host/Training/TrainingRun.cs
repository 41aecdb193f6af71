using Klear.Host.Configuration;
using System.Diagnostics;
using System.Text.Json;
using System.Text.Json.Nodes;
using Klear.Host.Metrics;
using Klear.Host.Rewards;
using Klear.Host.Tokenization;
using TorchSharp;

namespace Klear.Host.Training;

/// <summary>
/// A whole run: the SFT phase (<see cref="SftPhase"/>: SFT, evaluation), the RL phase (<see cref="RlPhase"/>: GPPO RL
/// with periodic evaluation, final evaluation), then report.json and a chart, with checkpoints along the way. A run
/// directory can be resumed: it restarts from its latest checkpoint, with the config stored there, in the phase that
/// checkpoint names, and repeats exactly what the uninterrupted run would have done.
/// </summary>
public sealed class TrainingRun
{
    readonly RunConfig _config;
    RunDirectory _dir = null!;
    readonly ITokenizer _tokenizer;
    readonly ITrainingTask _task;
    readonly RewardRegistry _rewards;
    readonly TextWriter _out;

    /// <summary>Builds every component from the configuration (task and its data, tokenizer, rewards, model shape, SFT
    /// plan and schedule, the RL objective, loss, estimator and schedule, sampling), before anything is written: a bad
    /// setting fails here in seconds, naming its key, not after SFT.</summary>
    public TrainingRun(RunConfig config, TextWriter output)
    {
        (_config, _out) = (config, output);
        if (config.Threads < 1) throw new ConfigException($"threads must be >= 1, got {config.Threads}");
        _task = config.Data.Task switch
        {
            "arithmetic" => new ArithmeticTrainingTask(config.Seed, config.Data),
            "files" => new FileTrainingTask(config.Seed, config.Data),
            var other => throw ConfigException.UnknownName("data.task", other, ["arithmetic", "files"]),
        };
        // A model directory brings its own tokenizer.json; otherwise the built-in task vocabulary.
        _tokenizer = config.Model.Path is { } modelDir && File.Exists(Path.Combine(modelDir, HfTokenizer.FileName))
            ? HfTokenizer.Load(Path.Combine(modelDir, HfTokenizer.FileName))
            : BuiltInTokenizer(config.Model.Tokenizer);
        _rewards = StandardRewards.Create(config.Reward);
        PolicyFactory.Describe(config.Model, _tokenizer.VocabSize);
        var sftSteps = SftSteps(config.Sft, _task.SftCount);
        LearningRateSchedule.ForSft(config.Sft, sftSteps ?? 0);
        var rl = RlComponents.Create(config);
        CheckEval(config.Eval);
        Derived = DerivedSettings.Of(config, rl.Objective, sftSteps);
    }

    /// <summary>What the settings imply (prompts drawn per step, SFT plan length, the objective's effective clip
    /// range), recorded under <c>derived:</c> in the run's config.yaml.</summary>
    public JsonObject Derived { get; }

    /// <summary>The SFT plan's length, checking its settings; null when a token budget decides it (known once SFT
    /// encodes its examples).</summary>
    static int? SftSteps(SftConfig sft, long? examples)
    {
        SftPlan.Validate(sft, examples);
        if (sft.MaxTokens > 0) return null;
        return SftPlan.Create(sft, examples, _ => throw new InvalidOperationException("no token budget")).Steps;
    }

    static void CheckEval(EvalConfig e)
    {
        if (e.K < 1) throw new ConfigException($"eval.k must be >= 1, got {e.K}");
        if (e.BatchSize < 1) throw new ConfigException($"eval.batch_size must be >= 1, got {e.BatchSize}");
        RlComponents.CheckSampling("eval", Rollout.SamplingSettings.Of(e));
        Rollout.GenerationPrecision.Parse("eval.dtype", e.Dtype);
    }

    /// <param name="world">The ranks of a data-parallel job (docs/distributed.md); every rank runs this with the same
    /// directory and config, rank 0 writes the files. Null: one process.</param>
    public JsonObject Run(RunDirectory dir, ICollectives? world = null)
    {
        world ??= SingleProcess.Instance;
        var leader = world.Rank == 0;
        _dir = dir;
        var clock = Stopwatch.StartNew();
        torch.set_num_threads(_config.Threads);
        _out.WriteLine($"machine: {MachineInfo.Current(_config.Threads)} (same seed + isa + threads: same numbers)");
        var model = PolicyFactory.Create(_config.Model, _tokenizer.VocabSize, _config.Seed);
        var latest = TrainingCheckpoint.Latest(_dir.Checkpoints);
        var state = latest is null ? new CheckpointState { Seed = _config.Seed } : TrainingCheckpoint.ReadState(latest);
        if (latest is not null) _out.WriteLine($"resuming from {latest}");
        if (leader) TrimMetrics(state);
        using var log = leader ? new MetricsLog(_dir.Path, append: true) : null;
        var run = new RunContext(_config, _dir, _tokenizer, _task, _rewards, _out, model, log, latest, clock, state.Results, world);
        if (state.Phase == TrainingPhase.Sft) state = SftPhase.Run(run, state);
        else TrainingCheckpoint.Restore(latest!, model, null);
        RlPhase.Run(run, state);
        return WriteReport(run);
    }

    /// <summary>report.json (the results and the run's seconds) and the chart of the metrics log.</summary>
    JsonObject WriteReport(RunContext run)
    {
        var report = new JsonObject { ["seed"] = _config.Seed, ["run_dir"] = _dir.Path };
        foreach (var (k, v) in run.ResultsSoFar().OrderBy(kv => kv.Key)) report[k] = v;
        report["machine"] = MachineInfo.Current(_config.Threads).ToJson();
        if (run.World.Size > 1) report["ranks"] = run.World.Size;
        if (!run.IsLeader) return report;
        File.WriteAllText(Path.Combine(_dir.Path, "report.json"), report.ToJsonString(new JsonSerializerOptions { WriteIndented = true }));
        RunChart.Save(Path.Combine(_dir.Path, "chart.html"), run.Log!.Rows, $"Klear {_task.Name}, seed {_config.Seed}");
        return report;
    }

    public static ITokenizer BuiltInTokenizer(string name) => name switch
    {
        "arithmetic" => CharTokenizer.Arithmetic(),
        "ascii" => CharTokenizer.Ascii(),
        _ => throw ConfigException.UnknownName("model.tokenizer", name, ["arithmetic", "ascii"]),
    };

    /// <summary>On resume, drops metric rows the checkpoint does not cover, so the log reads as one uninterrupted run.</summary>
    void TrimMetrics(CheckpointState state)
    {
        var path = Path.Combine(_dir.Path, "metrics.jsonl");
        if (!File.Exists(path)) return;
        bool Keep(JsonNode row)
        {
            var phase = row["phase"]!.GetValue<string>();
            var step = row["step"]!.GetValue<long>();
            var (sft, rl) = (TrainingPhase.Sft, TrainingPhase.Rl);
            return state.Phase switch
            {
                TrainingPhase.Sft => phase == sft.Name() && step < state.NextStep,
                // In RL all of SFT stays; an evaluation at the checkpoint's step stays unless it is the final one.
                TrainingPhase.Rl => phase == sft.Name() || phase == sft.EvalName()
                    || phase == rl.Name() && step < state.NextStep
                    || phase == rl.EvalName() && step <= state.NextStep && step < _config.Trainer.Steps,
                _ => false,
            };
        }
        var kept = File.ReadLines(path).Where(l => l.Length > 0 && Keep(JsonNode.Parse(l)!)).ToList();
        File.WriteAllLines(path, kept);
    }
}
