using Klear.Host.Configuration;
using System.Diagnostics;
using System.Text.Json;
using System.Text.Json.Nodes;
using Klear.Host.Evaluation;
using Klear.Host.Metrics;
using Klear.Host.Model;
using Klear.Host.Rewards;
using Klear.Host.Tokenization;
using TorchSharp;

namespace Klear.Host.Training;

/// <summary>
/// A whole run: SFT, evaluation, GPPO RL with periodic evaluation, final evaluation, report.json and a chart, with
/// checkpoints along the way. A run directory can be resumed: it restarts from its latest checkpoint, with the config
/// stored there, and repeats exactly what the uninterrupted run would have done.
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
        RlComponents.CheckSampling("eval", new Rollout.SamplingOptions
        {
            Temperature = e.Temperature, TopP = e.TopP, TopK = e.TopK, MaxNewTokens = e.MaxNewTokens,
        });
    }

    public JsonObject Run(RunDirectory dir)
    {
        _dir = dir;
        var clock = Stopwatch.StartNew();
        torch.set_num_threads(_config.Threads);
        var model = PolicyFactory.Create(_config.Model, _tokenizer.VocabSize, _config.Seed);
        var latest = TrainingCheckpoint.Latest(_dir.Checkpoints);
        var state = latest is null ? new CheckpointState { Seed = _config.Seed } : TrainingCheckpoint.ReadState(latest);
        if (latest is not null) _out.WriteLine($"resuming from {latest}");
        TrimMetrics(state);
        using var log = new MetricsLog(_dir.Path, append: true);
        var results = new Dictionary<string, double>(state.Results);
        var priorSeconds = results.GetValueOrDefault("seconds");

        if (state.Phase == "sft")
        {
            var sft = new SftTrainer(model, _tokenizer, _task, _config.Sft);
            using var optimizer = sft.CreateOptimizer();
            if (latest is not null) TrainingCheckpoint.Restore(latest, model, optimizer);
            var steps = sft.Plan.Steps;
            var validation = _task.SftValidationSet(_config.Sft.ValExamples);
            using var bar = new ProgressBar("sft", steps, 50);
            for (int step = state.NextStep; step < steps; step++)
            {
                var m = sft.Step(optimizer, step);
                var last = step + 1 == steps;
                if (validation.Count > 0 && (last || _config.Sft.EvalEvery > 0 && (step + 1) % _config.Sft.EvalEvery == 0))
                    m["sft/val_loss"] = sft.ValidationLoss(validation);
                log.Write("sft", step, m);
                bar.Update(step + 1, $"loss {m["sft/loss"]:0.000}  lr {m["charts/lr"]:0.0e0}");
                if (_config.Sft.SaveEvery > 0 && (step + 1) % _config.Sft.SaveEvery == 0 && !last)
                    Save(model, optimizer, state with { Phase = "sft", NextStep = step + 1, Results = With(results, clock, priorSeconds) });
            }
            bar.Finish();
            var sftEval = Evaluate(model, "sft", steps, log);
            results["sft_accuracy"] = sftEval.AvgAtK;
            if (sftEval.Greedy is { } g) results["sft_greedy"] = g;
            state = state with { Phase = "rl", NextStep = 0 };
            // The RL phase starts from here with a fresh optimizer, so this checkpoint holds SFT's optimizer only for inspection.
            Save(model, optimizer, state with { Results = With(results, clock, priorSeconds) });
        }
        else TrainingCheckpoint.Restore(latest!, model, null);

        using (var reference = _config.Actor.KlLossCoef != 0 ? Copy(model) : null)
        {
            var rl = new RlTrainer(model, reference, _tokenizer, _task, _rewards, _config) { SkippedSteps = state.SkippedSteps };
            using var optimizer = rl.CreateOptimizer();
            if (latest is not null && state.NextStep > 0) TrainingCheckpoint.Restore(latest, model, optimizer);
            using var bar = new ProgressBar("rl ", _config.Trainer.Steps, 5);
            for (int step = state.NextStep; step < _config.Trainer.Steps; step++)
            {
                var m = rl.Step(optimizer, step);
                log.Write("rl", step, m);
                bar.Update(step + 1, $"reward {m["critic/score/mean"]:+0.00;-0.00}  acc {m["reward/accuracy"]:0.00}  " +
                    $"clip {m.GetValueOrDefault("actor/pg_clipfrac"):0.000}  kept {m["rl/kept_groups"]}/{m["rl/groups"]}");
                var done = step + 1;
                if (_config.Trainer.EvalEvery > 0 && done % _config.Trainer.EvalEvery == 0 && done < _config.Trainer.Steps)
                    Evaluate(model, "rl", done, log);
                if (_config.Trainer.SaveEvery > 0 && done % _config.Trainer.SaveEvery == 0 && done < _config.Trainer.Steps)
                    Save(model, optimizer, new CheckpointState
                    {
                        Phase = "rl", NextStep = done, Seed = _config.Seed, SkippedSteps = rl.SkippedSteps, Results = With(results, clock, priorSeconds),
                    });
            }
            bar.Finish();
            var rlEval = Evaluate(model, "rl", _config.Trainer.Steps, log);
            results["rl_accuracy"] = rlEval.AvgAtK;
            if (rlEval.Greedy is { } g) results["rl_greedy"] = g;
            Save(model, optimizer, new CheckpointState
            {
                Phase = "rl", NextStep = _config.Trainer.Steps, Seed = _config.Seed, SkippedSteps = rl.SkippedSteps, Results = With(results, clock, priorSeconds),
            });
        }

        var report = new JsonObject { ["seed"] = _config.Seed, ["run_dir"] = _dir.Path };
        foreach (var (k, v) in With(results, clock, priorSeconds).OrderBy(kv => kv.Key)) report[k] = v;
        File.WriteAllText(Path.Combine(_dir.Path, "report.json"), report.ToJsonString(new JsonSerializerOptions { WriteIndented = true }));
        RunChart.Save(Path.Combine(_dir.Path, "chart.html"), log.Rows, $"Klear {_task.Name}, seed {_config.Seed}");
        return report;
    }

    public static ITokenizer BuiltInTokenizer(string name) => name switch
    {
        "arithmetic" => CharTokenizer.Arithmetic(),
        "ascii" => CharTokenizer.Ascii(),
        _ => throw ConfigException.UnknownName("model.tokenizer", name, ["arithmetic", "ascii"]),
    };

    static Dictionary<string, double> With(Dictionary<string, double> results, Stopwatch clock, double priorSeconds) =>
        new(results) { ["seconds"] = Math.Round(priorSeconds + clock.Elapsed.TotalSeconds, 1) };

    EvalSummary Evaluate(Qwen3ForCausalLM model, string phase, int step, MetricsLog log)
    {
        var clock = Stopwatch.StartNew();
        var (summary, results) = new Evaluator(model, _tokenizer, _rewards, _config.Eval).Run(_task.EvalSet, _task.RenderPrompt, _config.Seed);
        Evaluator.Save(Path.Combine(_dir.Eval, $"{phase}-step-{step:D6}.jsonl"), results);
        log.Write($"eval-{phase}", step, summary.ToMetrics());
        _out.WriteLine($"evaluation after {phase} step {step} ({clock.Elapsed.TotalSeconds:0.0}s):");
        _out.WriteLine(summary.Table());
        return summary;
    }

    void Save(Qwen3ForCausalLM model, TorchSharp.Modules.OptimizerHelper optimizer, CheckpointState state) =>
        TrainingCheckpoint.Save(_dir.Checkpoints, model, optimizer, state, _config);

    static Qwen3ForCausalLM Copy(Qwen3ForCausalLM model)
    {
        var copy = new Qwen3ForCausalLM(model.Config);
        using (torch.no_grad())
            foreach (var ((_, dst), (_, src)) in copy.named_parameters().Zip(model.named_parameters()))
                dst.copy_(src);
        copy.eval();
        foreach (var p in copy.parameters()) p.requires_grad = false;
        return copy;
    }

    /// <summary>On resume, drops metric rows the checkpoint does not cover, so the log reads as one uninterrupted run.</summary>
    void TrimMetrics(CheckpointState state)
    {
        var path = Path.Combine(_dir.Path, "metrics.jsonl");
        if (!File.Exists(path)) return;
        bool Keep(JsonNode row)
        {
            var phase = row["phase"]!.GetValue<string>();
            var step = row["step"]!.GetValue<long>();
            return (state.Phase, phase) switch
            {
                ("sft", "sft") => step < state.NextStep,
                ("sft", _) => false,
                ("rl", "sft" or "eval-sft") => true,
                ("rl", "rl") => step < state.NextStep,
                ("rl", "eval-rl") => step <= state.NextStep && step < _config.Trainer.Steps,
                _ => false,
            };
        }
        var kept = File.ReadLines(path).Where(l => l.Length > 0 && Keep(JsonNode.Parse(l)!)).ToList();
        File.WriteAllLines(path, kept);
    }
}
