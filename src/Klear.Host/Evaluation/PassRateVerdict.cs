using Klear.Host.Data;

namespace Klear.Host.Evaluation;

/// <summary>One prompt's pass rate under the reference policy: <see cref="Correct"/> of <see cref="Samples"/>
/// samples earned full reward, and whether that reached the filter's minimum.</summary>
public sealed record PassRateVerdict(VerlRow Row, int Correct, int Samples, bool Kept)
{
    public double PassRate => Samples == 0 ? 0 : Correct / (double)Samples;
}
