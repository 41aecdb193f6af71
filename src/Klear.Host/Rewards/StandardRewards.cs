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
            var other => throw new ConfigException($"reward.code_mode: unknown '{other}'; valid: ratio, signed, hard"),
        };
        var sandboxMode = SandboxModeNames.Parse(config.SandboxMode)
            ?? throw new ConfigException($"reward.sandbox_mode: unknown '{config.SandboxMode}'; valid: {SandboxModeNames.Valid}");
        var code = new DeferredReward("code", () => new CodeReward(new SandboxPool(new PythonSandbox(mode: sandboxMode)), mode));
        return new RewardRegistry()
            .Register(new MathReward(config), MathReward.DataSources)
            .Register(code, RewardRegistry.CodeDataSources);
    }
}
