using Klear.Host.Metrics;
using Klear.Host.Model;
using TorchSharp;

namespace Klear.Host.Training;

/// <summary>
/// The RL phase of a run: the trainer's steps from where the state stands (with a frozen copy of the starting policy
/// as the KL reference when the KL term is on), evaluations every <c>trainer.eval_every</c> steps, checkpoints every
/// <c>trainer.save_every</c>, then the final evaluation and checkpoint.
/// </summary>
internal static class RlPhase
{
    public static void Run(RunContext run, CheckpointState state)
    {
        var config = run.Config;
        using var reference = config.Actor.KlLossCoef != 0 ? FrozenCopy(run.Model) : null;
        var rl = new RlTrainer(run.Model, reference, run.Tokenizer, run.Task, run.Rewards, config, run.World) { SkippedSteps = state.SkippedSteps };
        using var optimizer = rl.CreateOptimizer();
        if (run.ResumedFrom is not null && state.NextStep > 0) TrainingCheckpoint.Restore(run.ResumedFrom, run.Model, optimizer);
        using var bar = new ProgressBar("rl ", config.Trainer.Steps, 5);
        for (int step = state.NextStep; step < config.Trainer.Steps; step++)
        {
            var m = rl.Step(optimizer, step);
            run.Write(TrainingPhase.Rl.Name(), step, m);
            bar.Update(step + 1, $"reward {m["critic/score/mean"]:+0.00;-0.00}  acc {m["reward/accuracy"]:0.00}  " +
                $"clip {m.GetValueOrDefault("actor/pg_clipfrac"):0.000}  kept {m["rl/kept_groups"]}/{m["rl/groups"]}");
            var done = step + 1;
            if (config.Trainer.EvalEvery > 0 && done % config.Trainer.EvalEvery == 0 && done < config.Trainer.Steps)
                run.Evaluate(TrainingPhase.Rl, done);
            if (config.Trainer.SaveEvery > 0 && done % config.Trainer.SaveEvery == 0 && done < config.Trainer.Steps)
                run.Save(optimizer, StateAt(run, rl, done));
        }
        bar.Finish();
        var eval = run.Evaluate(TrainingPhase.Rl, config.Trainer.Steps);
        run.Results["rl_accuracy"] = eval.AvgAtK;
        if (eval.Greedy is { } g) run.Results["rl_greedy"] = g;
        run.Save(optimizer, StateAt(run, rl, config.Trainer.Steps));
    }

    static CheckpointState StateAt(RunContext run, RlTrainer rl, int nextStep) => new()
    {
        Phase = TrainingPhase.Rl, NextStep = nextStep, Seed = run.Config.Seed, SkippedSteps = rl.SkippedSteps, Results = run.ResultsSoFar(),
    };

    /// <summary>The KL reference: the starting policy's weights, frozen, on its device.</summary>
    static Qwen3ForCausalLM FrozenCopy(Qwen3ForCausalLM model) => model.CopyAs(model.Dtype);
}
