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
    VerlRow RlPrompt(long index);
    IReadOnlyList<VerlRow> EvalSet { get; }
    /// <summary>The text the policy sees for a row's chat prompt.</summary>
    string RenderPrompt(VerlRow row);
}
