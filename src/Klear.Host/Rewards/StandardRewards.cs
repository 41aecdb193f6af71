using Klear.Host.Configuration;
using Klear.Host.Rewards.Code;
using Klear.Host.Rewards.Sandbox;

namespace Klear.Host.Rewards;

/// <summary>The registry every run uses: math (verifier + think gate) and code (sandboxed tests, started on first use).</summary>
public static class StandardRewards
{
    public static RewardRegistry Create(RewardConfig config)
    {
        var mode = config.CodeMode switch
        {
            "ratio" => CodeRewardMode.PassRatio,
            "signed" => CodeRewardMode.SignedPassRatio,
            "hard" => CodeRewardMode.AllOrNothing,
            var other => throw ConfigException.UnknownName("reward.code_mode", other, ["ratio", "signed", "hard"]),
        };
        var sandboxMode = SandboxModeNames.Parse(config.SandboxMode)
            ?? throw ConfigException.UnknownName("reward.sandbox_mode", config.SandboxMode, SandboxModeNames.Valid.Split(", "));
        var code = new DeferredReward("code", () => new CodeReward(new SandboxPool(new PythonSandbox(mode: sandboxMode)), mode));
        return new RewardRegistry()
            .Register(new MathReward(config), MathReward.DataSources)
            .Register(code, RewardRegistry.CodeDataSources);
    }

    /// <summary>
    /// Why this registry cannot score a row of <paramref name="dataSource"/> with this ground truth, as (the row's
    /// field, the problem): no reward for the source, or code tests that do not parse; null when it can. It needs no
    /// sandbox, so a command can reject a bad row before any sampling.
    /// </summary>
    public static (string Field, string Problem)? RowError(RewardRegistry registry, string dataSource, string groundTruth)
    {
        if (!registry.DataSources.Contains(dataSource))
            return ("data_source", $"no reward for '{dataSource}'; known: {string.Join(", ", registry.DataSources.Order(StringComparer.Ordinal))}");
        if (!RewardRegistry.CodeDataSources.Contains(dataSource)) return null;
        try { CodeTests.Parse(groundTruth); return null; }
        catch (FormatException e) { return ("reward_model.ground_truth", e.Message); }
    }
}
