using System.Text.Json.Nodes;
using Klear.Host.Rewards.Code;

namespace Klear.Host.Data;

/// <summary>One generated stdin/stdout problem with its tests (see <see cref="SyntheticCodeTask"/>).</summary>
/// <param name="Family">Which function of the numbers is asked for, e.g. "count-greater".</param>
/// <param name="Parameter">The family's constant (threshold, modulus, divisor), 0 where unused.</param>
/// <param name="Tests">The tests as published in the ground truth, wrong ones included.</param>
/// <param name="WrongTests">Indices into <paramref name="Tests"/> whose expected output is wrong (see
/// <see cref="SyntheticCodeTask.WithWrongTests"/>); empty for a problem whose tests are all right.</param>
public sealed record SyntheticCodeProblem(int Index, int Seed, string Family, int Parameter, string Statement,
                                          IReadOnlyList<CodeTestCase> Tests, IReadOnlyList<int> WrongTests)
{
    public bool HasWrongTests => WrongTests.Count > 0;

    /// <summary>Per-test wall-clock seconds: generous for a one-line program on a loaded 2-core machine.</summary>
    public const double TimeoutSeconds = 4;

    /// <summary>The <c>reward_model.ground_truth</c> string, in the released data's inputs/outputs format.</summary>
    public string GroundTruth() => new JsonObject
    {
        ["inputs"] = new JsonArray(Tests.Select(t => (JsonNode)JsonValue.Create(t.Stdin)).ToArray()),
        ["outputs"] = new JsonArray(Tests.Select(t => (JsonNode)JsonValue.Create(t.ExpectedStdout!)).ToArray()),
        ["timeout"] = TimeoutSeconds,
    }.ToJsonString(SyntheticCodeTask.RowJson);
}
