namespace Klear.Host.Training;

/// <summary>
/// How a phase is spelt in what a run writes: <c>state.json</c>, checkpoint directories (<c>rl-step-000003</c>),
/// <c>metrics.jsonl</c> rows (<c>sft</c>, <c>eval-sft</c>, ...) and evaluation files. Resume reads these back, so the
/// spellings are a file format.
/// </summary>
public static class TrainingPhaseNames
{
    public static string Name(this TrainingPhase phase) => phase switch
    {
        TrainingPhase.Sft => "sft",
        TrainingPhase.Rl => "rl",
        _ => throw new ArgumentOutOfRangeException(nameof(phase), phase, null),
    };

    /// <summary>The metrics rows of the evaluations that close (or, in RL, punctuate) the phase.</summary>
    public static string EvalName(this TrainingPhase phase) => $"eval-{phase.Name()}";

    /// <summary>The phase spelt <paramref name="name"/>; anything else is a damaged file.</summary>
    public static TrainingPhase Parse(string name)
    {
        foreach (var phase in Enum.GetValues<TrainingPhase>())
            if (phase.Name() == name) return phase;
        throw new InvalidDataException($"unknown training phase '{name}'; valid: {string.Join(", ", Enum.GetValues<TrainingPhase>().Select(Name))}");
    }
}
