namespace Klear.Host.Rewards;

/// <summary>
/// A reward built on first use. The code reward needs a sandbox pool (and bubblewrap), which a math-only run should
/// neither start nor require; registering it deferred keeps one registry for every run.
/// </summary>
public sealed class DeferredReward(string name, Func<IRewardFunction> create) : IRewardFunction, IAsyncDisposable
{
    readonly Lazy<IRewardFunction> _reward = new(create, LazyThreadSafetyMode.ExecutionAndPublication);

    public string Name => name;

    public Task<RewardResult> ScoreAsync(string response, string groundTruth, CancellationToken ct = default) =>
        _reward.Value.ScoreAsync(response, groundTruth, ct);

    public bool SameAnswer(string a, string b) => _reward.Value.SameAnswer(a, b);

    public async ValueTask DisposeAsync()
    {
        if (_reward.IsValueCreated && _reward.Value is IAsyncDisposable d) await d.DisposeAsync();
    }
}
