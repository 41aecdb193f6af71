using Klear.Host.Configuration;
using Klear.Verifier;

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

    static readonly VerifyOptions Options = VerifyOptions.Defaults;

    public string Name => "math";

    public RewardResult Score(string response, string groundTruth)
    {
        // A gated response still votes with its answer: maj@k counts what the model answered, and the vote is
        // correct only when the samples holding it were. The vote is the response itself, compared by SameAnswer.
        var answer = MathVerifier.explain(Options, response).IsEmpty ? null : response;
        if (!response.Contains("<think>", StringComparison.Ordinal))
            return new RewardResult(config.MissingThinkOpen, false, "missing <think>", Answer: answer);
        if (!response.Contains("</think>", StringComparison.Ordinal))
            return new RewardResult(config.MissingThinkClose, false, "missing </think>", Answer: answer);
        var correct = MathVerifier.verify(Options, groundTruth, response);
        return new RewardResult(correct ? config.Correct : config.Wrong, correct, Answer: answer);
    }

    /// <summary>Votes are responses with an answer; two vote together when their answers are equivalent.</summary>
    public bool SameAnswer(string a, string b) => MathVerifier.sameAnswer(Options, a, b);

    public Task<RewardResult> ScoreAsync(string response, string groundTruth, CancellationToken ct = default) =>
        Task.FromResult(Score(response, groundTruth));
}
