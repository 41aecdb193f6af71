using Klear.Host.Configuration;

namespace Klear.Host.Training;

/// <summary>
/// When SFT may stop before its last step: after every <c>sft.check_every</c> steps the policy solves the first
/// <c>sft.check_problems</c> RL training prompts greedily, and SFT ends once that accuracy reaches
/// <c>sft.stop_at_accuracy</c>. On a steep learning curve this makes where SFT ends a property of the policy rather
/// than of the step count, which float rounding (CPU, kernels, threads, ranks) moves by tens of steps.
/// </summary>
public static class SftStop
{
    public static void Validate(SftConfig config)
    {
        if (!(config.StopAtAccuracy >= 0 && config.StopAtAccuracy <= 1))
            throw new ConfigException($"sft.stop_at_accuracy must lie in [0, 1] (0: off), got {config.StopAtAccuracy}");
        if (config.StopAtAccuracy == 0) return;
        if (config.CheckEvery < 1) throw new ConfigException($"sft.check_every must be at least 1, got {config.CheckEvery}");
        if (config.CheckProblems < 1) throw new ConfigException($"sft.check_problems must be at least 1, got {config.CheckProblems}");
    }

    /// <summary>Whether the accuracy check runs after <paramref name="step"/> (0-based) of a plan of <paramref name="steps"/>:
    /// every check_every steps, never after the last one (SFT ends there anyway).</summary>
    public static bool ChecksAfter(SftConfig config, int step, int steps) =>
        config.StopAtAccuracy > 0 && step + 1 < steps && (step + 1) % config.CheckEvery == 0;

    /// <summary>Whether a check that measured <paramref name="accuracy"/> ends SFT.</summary>
    public static bool Reached(SftConfig config, double accuracy) => config.StopAtAccuracy > 0 && accuracy >= config.StopAtAccuracy;
}
