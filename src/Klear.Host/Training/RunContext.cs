using Klear.Host.Configuration;
using System.Diagnostics;
using Klear.Host.Evaluation;
using Klear.Host.Metrics;
using Klear.Host.Model;
using Klear.Host.Rewards;
using Klear.Host.Tokenization;

namespace Klear.Host.Training;

/// <summary>
/// What the phases of one run share: its settings, data, policy and metrics log, the checkpoint it resumed from, and
/// the evaluation results so far (which later phases add to and every checkpoint carries).
/// </summary>
internal sealed class RunContext(RunConfig config, RunDirectory dir, ITokenizer tokenizer, ITrainingTask task,
    RewardRegistry rewards, TextWriter output, Qwen3ForCausalLM model, MetricsLog? log, string? resumedFrom,
    Stopwatch clock, IReadOnlyDictionary<string, double> results, ICollectives world)
{
    // Time spent by earlier processes of this run, from the checkpoint, so "seconds" counts the whole run.
    readonly double _priorSeconds = results.GetValueOrDefault("seconds");

    public RunConfig Config => config;
    public RunDirectory Dir => dir;
    public ITokenizer Tokenizer => tokenizer;
    public ITrainingTask Task => task;
    public RewardRegistry Rewards => rewards;
    public Qwen3ForCausalLM Model => model;
    /// <summary>The metrics log; only rank 0 has one (it writes the run's files).</summary>
    public MetricsLog? Log => log;
    public ICollectives World => world;
    public bool IsLeader => world.Rank == 0;

    /// <summary>One row of metrics (the same on every rank), written once, by rank 0.</summary>
    public void Write(string phase, long step, IReadOnlyDictionary<string, double> values) => log?.Write(phase, step, values);
    /// <summary>The checkpoint this process started from, or null for a fresh run.</summary>
    public string? ResumedFrom => resumedFrom;
    public Dictionary<string, double> Results { get; } = new(results);

    /// <summary>The results with the run's seconds so far, as checkpoints and the report store them.</summary>
    public Dictionary<string, double> ResultsSoFar() =>
        new(Results) { ["seconds"] = Math.Round(_priorSeconds + clock.Elapsed.TotalSeconds, 1) };

    /// <summary>A checkpoint, written once (by rank 0: every rank holds the same parameters and optimizer state).</summary>
    public void Save(TorchSharp.Modules.OptimizerHelper optimizer, CheckpointState state)
    {
        if (IsLeader) TrainingCheckpoint.Save(dir.Checkpoints, model, optimizer, state, config);
    }

    /// <summary>
    /// Greedy accuracy on the first <paramref name="problems"/> RL training prompts (SFT's stop check): the task RL is
    /// about to train on, never the evaluation set, so the reported evaluations stay held out. Same on every rank.
    /// </summary>
    public double GreedyAccuracyOnTrainingPrompts(int problems)
    {
        var rows = Enumerable.Range(0, problems).Select(i => task.RlPrompt(i)).ToList();
        var greedy = config.Eval with { K = 1, Temperature = 0, TopP = 1, TopK = 0, Greedy = false };
        var (summary, _) = EvalShards.Run(new Evaluator(model, tokenizer, rewards, greedy), rows, task.RenderPrompt, config.Seed, world);
        return summary.AvgAtK;
    }

    /// <summary>Evaluates the policy after <paramref name="step"/> of <paramref name="phase"/>: per-problem results
    /// to eval/, the summary to the metrics log and the console.</summary>
    public EvalSummary Evaluate(TrainingPhase phase, int step)
    {
        var started = Stopwatch.StartNew();
        var (summary, perProblem) = EvalShards.Run(new Evaluator(model, tokenizer, rewards, config.Eval), task.EvalSet, task.RenderPrompt, config.Seed, world);
        if (IsLeader) Evaluator.Save(Path.Combine(dir.Eval, $"{phase.Name()}-step-{step:D6}.jsonl"), perProblem);
        Write(phase.EvalName(), step, summary.ToMetrics());
        output.WriteLine($"evaluation after {phase.Name()} step {step} ({started.Elapsed.TotalSeconds:0.0}s):");
        output.WriteLine(summary.Table());
        return summary;
    }
}
