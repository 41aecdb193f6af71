namespace Klear.Host.Configuration;

/// <summary>Long-CoT SFT: response-only NLL, AdamW, warm-up then cosine decay from a peak to a floor LR.</summary>
public sealed record SftConfig
{
    /// <summary>Optimizer steps, unless <see cref="Epochs"/> is set.</summary>
    public int Steps { get; init; } = 450;
    /// <summary>Passes over a finite SFT data set (data.sft_files); when set, it decides the number of steps.</summary>
    public double? Epochs { get; init; }
    /// <summary>Most sequences per optimizer step.</summary>
    public int BatchSize { get; init; } = 128;
    /// <summary>Token budget per step, counted as rows × longest sequence (what the padded batch costs); 0: off, every
    /// step takes batch_size sequences. Long-CoT traces vary in length by 10×, so a fixed row count wastes compute.</summary>
    public int MaxTokens { get; init; } = 0;
    /// <summary>Validation loss (response NLL on held-out examples) every this many steps and at the end; 0: at the end only.</summary>
    public int EvalEvery { get; init; } = 0;
    /// <summary>Held-out examples for the validation loss (0: none).</summary>
    public int ValExamples { get; init; } = 64;
    public double Lr { get; init; } = 2e-3;
    /// <summary>Cosine floor (the paper: 8e-5 → 4e-5, i.e. half the peak).</summary>
    public double MinLr { get; init; } = 2e-4;
    public int WarmupSteps { get; init; } = 50;
    public double WeightDecay { get; init; } = 0.1;
    public double Beta1 { get; init; } = 0.9;
    public double Beta2 { get; init; } = 0.98;
    public double GradClip { get; init; } = 1.0;
    /// <summary>Checkpoint every this many SFT steps (0: only at the end of SFT).</summary>
    public int SaveEvery { get; init; } = 300;
}
