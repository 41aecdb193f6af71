using Klear.Host.Data;

namespace Klear.Host.Training;

/// <summary>
/// Where a run's problems come from. Every draw is addressed by index, so a resumed run draws exactly what an
/// uninterrupted one would.
/// </summary>
public interface ITrainingTask
{
    string Name { get; }
    SftExample SftExample(long index);
    /// <summary>How many distinct SFT examples there are (an epoch), or null when they are generated without end.</summary>
    long? SftCount { get; }
    /// <summary>Up to <paramref name="max"/> held-out SFT examples for the validation loss (none: no validation loss).</summary>
    IReadOnlyList<SftExample> SftValidationSet(int max);
    VerlRow RlPrompt(long index);
    IReadOnlyList<VerlRow> EvalSet { get; }
    /// <summary>The text the policy sees for a row's chat prompt.</summary>
    string RenderPrompt(VerlRow row);
}
