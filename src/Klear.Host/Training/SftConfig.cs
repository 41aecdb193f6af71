namespace Klear.Host.Training;

/// <summary>Long-CoT SFT: response-only NLL, AdamW, warm-up then cosine decay from a peak to a floor LR.</summary>
public sealed record SftConfig
{
    public int Steps { get; init; } = 450;
    /// <summary>Sequences per optimizer step.</summary>
    public int BatchSize { get; init; } = 128;
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
