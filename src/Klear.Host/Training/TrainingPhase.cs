namespace Klear.Host.Training;

/// <summary>The two phases of a run, in order. Files name them "sft" and "rl" (<see cref="TrainingPhaseNames"/>).</summary>
public enum TrainingPhase
{
    Sft,
    Rl,
}
