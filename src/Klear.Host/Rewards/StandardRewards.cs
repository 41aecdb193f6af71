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
}
