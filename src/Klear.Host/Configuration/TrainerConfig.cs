namespace Klear.Host.Configuration;

/// <summary>The RL loop's schedule.</summary>
public sealed record TrainerConfig
{
    public int Steps { get; init; } = 80;
    /// <summary>Target number of informative prompt groups per step.</summary>
    public int PromptsPerStep { get; init; } = 32;
    /// <summary>Prompts drawn per step as a multiple of prompts_per_step (the released recipe draws 2×).</summary>
    public double Oversample { get; init; } = 1.0;
    /// <summary>Evaluate every this many RL steps (0: only at the end).</summary>
    public int EvalEvery { get; init; } = 0;
    /// <summary>Checkpoint every this many RL steps (0: only at the end).</summary>
    public int SaveEvery { get; init; } = 20;
}
