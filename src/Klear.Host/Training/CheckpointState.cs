namespace Klear.Host.Training;

/// <summary>Where a run stands: the phase and the next step to run, plus what later phases need from earlier ones.</summary>
public sealed record CheckpointState
{
    public TrainingPhase Phase { get; init; } = TrainingPhase.Sft;
    /// <summary>The next step of that phase to run (steps before it are done).</summary>
    public int NextStep { get; init; }
    public long Seed { get; init; }
    public int SkippedSteps { get; init; }
    /// <summary>Evaluation results so far (e.g. sft_accuracy), carried into the report.</summary>
    public Dictionary<string, double> Results { get; init; } = [];
}
