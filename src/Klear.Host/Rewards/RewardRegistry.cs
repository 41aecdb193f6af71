using Klear.Host.Rewards.Code;

namespace Klear.Host.Rewards;

/// <summary>
/// Reward functions keyed by a row's <c>data_source</c>. Closed: an unknown source is an error listing the known
/// ones, and a source cannot be registered twice (a silent overwrite would score a data set with the wrong reward).
/// </summary>
public sealed class RewardRegistry
{
    /// <summary>The data_source names of code problems (released Klear data and ours).</summary>
    public static readonly IReadOnlyList<string> CodeDataSources =
        ["code", "livecodebench", "codeforces", "taco", "apps", "primeintellect", "synthetic-code"];

    readonly Dictionary<string, IRewardFunction> _byDataSource = new(StringComparer.Ordinal);

    public IReadOnlyCollection<string> DataSources => _byDataSource.Keys;

    public RewardRegistry Register(IRewardFunction reward, params IEnumerable<string> dataSources)
    {
        foreach (var source in dataSources)
            if (!_byDataSource.TryAdd(source, reward))
                throw new ArgumentException(
                    $"data_source '{source}' already has the '{_byDataSource[source].Name}' reward", nameof(dataSources));
        return this;
    }

    /// <summary>A registry with the code reward under every code data_source.</summary>
    public static RewardRegistry WithCode(CodeReward code) => new RewardRegistry().Register(code, CodeDataSources);

    public IRewardFunction Get(string dataSource) =>
        _byDataSource.TryGetValue(dataSource, out var reward) ? reward
        : throw new KeyNotFoundException(
            $"no reward for data_source '{dataSource}'; known: {string.Join(", ", _byDataSource.Keys.Order(StringComparer.Ordinal))}");

    public Task<RewardResult> ScoreAsync(string dataSource, string response, string groundTruth, CancellationToken ct = default) =>
        Get(dataSource).ScoreAsync(response, groundTruth, ct);
}
