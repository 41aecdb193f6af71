using Klear.Algorithms.Verifier;
using Klear.Host.Training;

namespace Klear.Host.Rewards;

/// <summary>
/// The released recipe's math reward: +1 when the answer after the last <c>&lt;/think&gt;</c> matches the ground truth
/// under the verifier (Math-Verify's rules), −1 otherwise; a response without <c>&lt;think&gt;</c> gets −2 and one
/// without <c>&lt;/think&gt;</c> −0.5 (the think gate). Correct = verified and well-formed.
/// </summary>
public sealed class MathReward(RewardConfig config) : IRewardFunction
{
    public static readonly IReadOnlyList<string> DataSources =
        ["klear/arithmetic", "math", "math_dapo", "aime", "aime24", "aime25", "hmmt", "deepscaler", "openr1_math", "lighteval/MATH"];

    static readonly VerifyOptions Options = VerifyOptionsModule.defaults;

    public string Name => "math";

    public RewardResult Score(string response, string groundTruth)
    {
        if (!response.Contains("<think>", StringComparison.Ordinal))
            return new RewardResult(config.MissingThinkOpen, false, "missing <think>");
        if (!response.Contains("</think>", StringComparison.Ordinal))
            return new RewardResult(config.MissingThinkClose, false, "missing </think>");
        var correct = MathVerifier.verify(Options, groundTruth, response);
        return new RewardResult(correct ? config.Correct : config.Wrong, correct);
    }

    /// <summary>The canonical form of the response's final answer (for majority voting), or null.</summary>
    public static string? CanonicalAnswer(string response) =>
        MathVerifier.explain(Options, response) is { IsEmpty: false } e ? e.Head : null;

    public Task<RewardResult> ScoreAsync(string response, string groundTruth, CancellationToken ct = default) =>
        Task.FromResult(Score(response, groundTruth));
}
