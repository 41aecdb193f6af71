using System.Text.Json;
using System.Text.RegularExpressions;
using Klear.Algorithms;
using Klear.Host.Configuration;
using Klear.Host.Rollout;

namespace Klear.Host.Training;

/// <summary>
/// What the RL phase is made of, built from the config: the objective, the loss, the advantage estimator, the LR
/// schedule, the rollout correction and the overlong penalty, with the batch shape and sampling settings checked. RlTrainer builds itself from this, and TrainingRun
/// builds it before any work, so a bad RL setting fails before SFT runs or a run directory exists.
/// </summary>
public sealed record RlComponents(PolicyObjective Objective, Loss Loss, AdvantageEstimator Estimator, LearningRateSchedule Schedule)
{
    /// <summary>The rollout–trainer mismatch correction (<c>algorithm.rollout_is</c>, <c>algorithm.rollout_rs</c>).</summary>
    public RolloutCorrection Correction { get; init; } = RolloutCorrection.None;

    /// <summary>DAPO's soft overlong punishment (<c>reward.overlong_*</c>).</summary>
    public required Rewards.OverlongPenalty Overlong { get; init; }

    public static RlComponents Create(RunConfig config)
    {
        var estimator = Advantages.parse(config.Algorithm.AdvEstimator)
            .OrThrow(_ => ConfigException.UnknownName("algorithm.adv_estimator", config.Algorithm.AdvEstimator, Advantages.names));
        CheckBatches(config);
        CheckSampling("rollout", SamplingSettings.Of(config.Rollout));
        GenerationPrecision.Parse("rollout.dtype", config.Rollout.Dtype);
        var objective = RlLossFactory.Objective(config.Actor);
        var overlong = new Rewards.OverlongPenalty(config.Rollout.MaxNewTokens, config.Reward.OverlongBufferLen, config.Reward.OverlongPenaltyFactor);
        if (overlong.Problem() is { } p) throw new ConfigException($"{p.Key} {p.Message}");
        return new RlComponents(objective, RlLossFactory.Create(config.Actor, objective, config.Rollout.MaxNewTokens),
            estimator, LearningRateSchedule.ForRl(config.Actor))
        {
            Correction = CorrectionOf(config.Algorithm), Overlong = overlong,
        };
    }

    /// <summary>TIS and MIS from <c>algorithm.rollout_*</c>; a name or bound it cannot use fails naming the key.</summary>
    static RolloutCorrection CorrectionOf(AlgorithmConfig a)
    {
        static bool Is(string? value, string name) => string.Equals(value?.Trim(), name, StringComparison.OrdinalIgnoreCase);
        if (!Is(a.RolloutIs, "none") && !Is(a.RolloutIs, "token"))
            throw ConfigException.UnknownName("algorithm.rollout_is", a.RolloutIs, ["none", "token"]);
        if (!Is(a.RolloutRs, "none") && !Is(a.RolloutRs, "sequence"))
            throw ConfigException.UnknownName("algorithm.rollout_rs", a.RolloutRs, ["none", "sequence"]);
        var tis = Is(a.RolloutIs, "token");
        var mis = Is(a.RolloutRs, "sequence");
        if (tis && !(a.RolloutIsThreshold > 0 && double.IsFinite(a.RolloutIsThreshold)))
            throw new ConfigException($"algorithm.rollout_is_threshold must be a finite number > 0, got {a.RolloutIsThreshold}");
        if (mis && !(a.RolloutRsThresholdLower >= 0 && a.RolloutRsThreshold > a.RolloutRsThresholdLower && double.IsFinite(a.RolloutRsThreshold)))
            throw new ConfigException($"algorithm.rollout_rs_threshold_lower and algorithm.rollout_rs_threshold need 0 <= lower < upper, got [{a.RolloutRsThresholdLower}, {a.RolloutRsThreshold}]");
        return RolloutCorrection.Of(tis ? a.RolloutIsThreshold : null, mis ? a.RolloutRsThresholdLower : null, mis ? a.RolloutRsThreshold : null);
    }

    /// <summary>Prompts drawn per step: prompts_per_step × oversample, rounded up.</summary>
    public static int PromptsDrawn(TrainerConfig t) => (int)Math.Ceiling(t.PromptsPerStep * t.Oversample);

    static void CheckBatches(RunConfig c)
    {
        if (c.Rollout.N < 2) throw new ConfigException($"rollout.n must be >= 2 for group advantages, got {c.Rollout.N}");
        if (c.Trainer.Steps < 0) throw new ConfigException($"trainer.steps must be 0 or positive, got {c.Trainer.Steps}");
        if (!(c.Trainer.CollectiveTimeoutSeconds >= 0) || double.IsInfinity(c.Trainer.CollectiveTimeoutSeconds))
            throw new ConfigException($"trainer.collective_timeout_seconds must be a finite number >= 0 (0: off), got {c.Trainer.CollectiveTimeoutSeconds}");
        if (c.Trainer.PromptsPerStep < 1) throw new ConfigException($"trainer.prompts_per_step must be >= 1, got {c.Trainer.PromptsPerStep}");
        if (!(c.Trainer.Oversample >= 1) || double.IsInfinity(c.Trainer.Oversample))
            throw new ConfigException($"trainer.oversample must be a finite number >= 1, got {c.Trainer.Oversample}");
        if (c.Actor.MiniBatches < 1) throw new ConfigException($"actor.mini_batches must be >= 1, got {c.Actor.MiniBatches}");
        if (c.Actor.MicroBatches < 1) throw new ConfigException($"actor.micro_batches must be >= 1, got {c.Actor.MicroBatches}");
        if (c.Actor.MicroMaxTokens < 0) throw new ConfigException($"actor.micro_max_tokens must be >= 0 (0: off), got {c.Actor.MicroMaxTokens}");
        // Splits need not be even (the aggregation is exact for any split), but every micro-batch of a full step must
        // hold a rollout, or the setting silently means fewer optimizer steps than asked.
        var full = c.Trainer.PromptsPerStep * c.Rollout.N;
        if (c.Actor.MiniBatches * c.Actor.MicroBatches > full)
            throw new ConfigException($"actor.mini_batches × actor.micro_batches = {c.Actor.MiniBatches * c.Actor.MicroBatches} exceeds the " +
                                      $"rollouts of a full step (trainer.prompts_per_step × rollout.n = {full})");
        if (!(c.Actor.GradClip > 0)) throw new ConfigException($"actor.grad_clip must be > 0, got {c.Actor.GradClip}");
        if (!(c.Actor.WeightDecay >= 0)) throw new ConfigException($"actor.weight_decay must be >= 0, got {c.Actor.WeightDecay}");
    }

    /// <summary>Runs the sampler's own check and names the config key it came from (the option and key names match).</summary>
    public static void CheckSampling(string section, SamplingOptions options)
    {
        try { options.Validate(); }
        catch (ArgumentException e)
        {
            var m = Regex.Match(e.Message, @"^SamplingOptions: (\w+) (.*)$");
            throw new ConfigException(m.Success ? $"{section}.{JsonNamingPolicy.SnakeCaseLower.ConvertName(m.Groups[1].Value)} {m.Groups[2].Value}" : $"{section}: {e.Message}");
        }
    }
}
