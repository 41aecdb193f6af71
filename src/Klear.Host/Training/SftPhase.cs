using Klear.Host.Metrics;

namespace Klear.Host.Training;

/// <summary>
/// The SFT phase of a run: the plan's steps from where the state stands, validation loss along the way, checkpoints
/// every <c>sft.save_every</c> steps, then the evaluation and the checkpoint the RL phase starts from.
/// </summary>
internal static class SftPhase
{
    /// <summary>Runs SFT to its end; returns the state the RL phase starts in.</summary>
    public static CheckpointState Run(RunContext run, CheckpointState state)
    {
        var config = run.Config.Sft;
        var sft = new SftTrainer(run.Model, run.Tokenizer, run.Task, config, run.World);
        using var optimizer = sft.CreateOptimizer();
        if (run.ResumedFrom is not null) TrainingCheckpoint.Restore(run.ResumedFrom, run.Model, optimizer);
        var steps = sft.Plan.Steps;
        var validation = run.Task.SftValidationSet(config.ValExamples);
        using var bar = new ProgressBar("sft", steps, 50);
        var end = steps;
        for (int step = state.NextStep; step < steps; step++)
        {
            var m = sft.Step(optimizer, step);
            // The stop check comes first, so a resumed run repeats every decision an uninterrupted one made.
            var stop = false;
            if (SftStop.ChecksAfter(config, step, steps))
            {
                var accuracy = run.GreedyAccuracyOnTrainingPrompts(config.CheckProblems);
                m["sft/check_greedy"] = accuracy;
                stop = SftStop.Reached(config, accuracy);
            }
            var last = stop || step + 1 == steps;
            if (validation.Count > 0 && (last || config.EvalEvery > 0 && (step + 1) % config.EvalEvery == 0))
                m["sft/val_loss"] = sft.ValidationLoss(validation);
            run.Write(TrainingPhase.Sft.Name(), step, m);
            var check = m.TryGetValue("sft/check_greedy", out var c) ? $"  check {c:0.000}" : "";
            bar.Update(step + 1, $"loss {m["sft/loss"]:0.000}  lr {m["charts/lr"]:0.0e0}{check}");
            if (config.SaveEvery > 0 && (step + 1) % config.SaveEvery == 0 && !last)
                run.Save(optimizer, state with { Phase = TrainingPhase.Sft, NextStep = step + 1, Results = run.ResultsSoFar() });
            if (stop)
            {
                end = step + 1;
                break;
            }
        }
        bar.Finish();
        var eval = run.Evaluate(TrainingPhase.Sft, end);
        run.Results["sft_steps"] = end;
        run.Results["sft_accuracy"] = eval.AvgAtK;
        if (eval.Greedy is { } g) run.Results["sft_greedy"] = g;
        var rl = state with { Phase = TrainingPhase.Rl, NextStep = 0 };
        // The RL phase starts from here with a fresh optimizer, so this checkpoint holds SFT's optimizer only for inspection.
        run.Save(optimizer, rl with { Results = run.ResultsSoFar() });
        return rl;
    }
}
