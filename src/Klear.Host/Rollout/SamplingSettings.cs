using Klear.Host.Configuration;

namespace Klear.Host.Rollout;

/// <summary>The sampler's options as the config states them: the one place where a config section becomes
/// <see cref="SamplingOptions"/>, so what is checked before a run is what samples during it.</summary>
public static class SamplingSettings
{
    /// <summary>RL rollouts (<c>rollout.*</c>); stop and pad tokens come from the tokenizer.</summary>
    public static SamplingOptions Of(RolloutConfig c, int? stopToken = null, int padToken = 0) => new()
    {
        Temperature = c.Temperature, TopP = c.TopP, TopK = c.TopK, MaxNewTokens = c.MaxNewTokens,
        StopTokenIds = stopToken is { } s ? [s] : [], PadTokenId = padToken,
    };

    /// <summary>Sampled evaluation (<c>eval.*</c>); <see cref="Greedy"/> is the same with argmax.</summary>
    public static SamplingOptions Of(EvalConfig c, int? stopToken = null, int padToken = 0) => new()
    {
        Temperature = c.Temperature, TopP = c.TopP, TopK = c.TopK, MaxNewTokens = c.MaxNewTokens,
        StopTokenIds = stopToken is { } s ? [s] : [], PadTokenId = padToken,
    };

    /// <summary>The same response budget and tokens, decoded greedily.</summary>
    public static SamplingOptions Greedy(SamplingOptions o) => o with { Temperature = 0, TopP = 1, TopK = 0 };
}
