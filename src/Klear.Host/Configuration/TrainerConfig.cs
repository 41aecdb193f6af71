using System.ComponentModel;

namespace Klear.Host.Configuration;

/// <summary>The RL loop's schedule.</summary>
public sealed record TrainerConfig
{
    [Description("RL steps")]
    public int Steps { get; init; } = 80;
    [Description("Target number of informative prompt groups per step")]
    public int PromptsPerStep { get; init; } = 32;
    [Description("Prompts drawn per step as a multiple of prompts_per_step (the released recipe draws 2x)")]
    public double Oversample { get; init; } = 1.0;
    [Description("Evaluate every this many RL steps (0: only at the end)")]
    public int EvalEvery { get; init; } = 0;
    [Description("Checkpoint every this many RL steps (0: only at the end)")]
    public int SaveEvery { get; init; } = 20;
    [Description("Data parallel: end the job when a rank waits longer than this in one collective (a rank hung without dying); 0: wait forever (a checkpoint written by rank 0 is waited for by the others)")]
    public double CollectiveTimeoutSeconds { get; init; } = 0;
}
