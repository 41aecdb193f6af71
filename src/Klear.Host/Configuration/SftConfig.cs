using System.ComponentModel;

namespace Klear.Host.Configuration;

/// <summary>Long-CoT SFT: response-only NLL, AdamW, warm-up then cosine decay from a peak to a floor LR.</summary>
public sealed record SftConfig
{
    [Description("Optimizer steps, unless epochs is set")]
    public int Steps { get; init; } = 450;
    [Description("Passes over a finite SFT data set (data.sft_files); when set, it decides the number of steps")]
    public double? Epochs { get; init; }
    [Description("Most sequences per optimizer step")]
    public int BatchSize { get; init; } = 128;
    // Long-CoT traces vary in length by 10×, so a fixed row count wastes compute.
    [Description("Token budget per step, counted as rows × longest sequence (what the padded batch costs); 0: off, every step takes batch_size sequences")]
    public int MaxTokens { get; init; } = 0;
    [Description("Validation loss (response NLL on held-out examples) every this many steps and at the end; 0: at the end only")]
    public int EvalEvery { get; init; } = 0;
    [Description("Held-out examples for the validation loss (0: none)")]
    public int ValExamples { get; init; } = 64;
    [Description("Peak AdamW learning rate")]
    public double Lr { get; init; } = 2e-3;
    [Description("Cosine floor (the paper: 8e-5 → 4e-5, i.e. half the peak)")]
    public double MinLr { get; init; } = 2e-4;
    [Description("Steps of linear LR warm-up")]
    public int WarmupSteps { get; init; } = 50;
    [Description("AdamW weight decay")]
    public double WeightDecay { get; init; } = 0.1;
    [Description("AdamW beta1")]
    public double Beta1 { get; init; } = 0.9;
    [Description("AdamW beta2")]
    public double Beta2 { get; init; } = 0.98;
    [Description("Gradient norm clip")]
    public double GradClip { get; init; } = 1.0;
    // A fixed step count can end SFT anywhere on a steep learning curve (a change of float rounding moves it), so a run
    // can stop once the policy does the task well enough for RL instead (steps is then the most it takes).
    [Description("Stop SFT once the greedy accuracy on check_problems RL training prompts reaches this (checked every check_every steps; 0: off, run every step)")]
    public double StopAtAccuracy { get; init; } = 0;
    [Description("Steps between accuracy checks when stop_at_accuracy is set")]
    public int CheckEvery { get; init; } = 25;
    [Description("RL training prompts (the first ones of the RL stream, never the evaluation set) the accuracy check solves greedily")]
    public int CheckProblems { get; init; } = 200;
    [Description("Checkpoint every this many SFT steps (0: only at the end of SFT)")]
    public int SaveEvery { get; init; } = 300;
    [Description("Recompute each decoder layer in backward instead of storing its activations (as actor.activation_checkpointing, for SFT steps)")]
    public bool ActivationCheckpointing { get; init; } = false;
}
