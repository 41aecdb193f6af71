namespace Klear.Host.Rewards;

/// <summary>Scores one model response against one row's <c>reward_model.ground_truth</c>.</summary>
public interface IRewardFunction
{
    /// <summary>A short name for logs and errors, e.g. "code".</summary>
    string Name { get; }

    Task<RewardResult> ScoreAsync(string response, string groundTruth, CancellationToken ct = default);

    /// <summary>Whether two <see cref="RewardResult.Answer"/>s are the same vote in majority voting (maj@k).</summary>
    bool SameAnswer(string a, string b) => string.Equals(a, b, StringComparison.Ordinal);
}
