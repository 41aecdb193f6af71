namespace Klear.Host.Rewards;

/// <summary>A scalar reward and whether the response counts as correct (the SFT term trains on correct ones).</summary>
/// <param name="FormatError">Why the response could not be scored (no answer found), else null.</param>
/// <param name="Metrics">Extra figures for logging, e.g. <c>pass_ratio</c>.</param>
/// <param name="Answer">What majority voting (maj@k) compares, with the reward's <see cref="IRewardFunction.SameAnswer"/>;
/// null casts no vote. Math: the response (its final answers are compared by the verifier); code: the program's
/// observable behaviour on the tests.</param>
public sealed record RewardResult(
    double Score,
    bool Correct,
    string? FormatError = null,
    IReadOnlyDictionary<string, double>? Metrics = null,
    string? Answer = null);
