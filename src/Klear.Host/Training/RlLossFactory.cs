using Klear.Host.Configuration;
using Klear.Algorithms;

namespace Klear.Host.Training;

/// <summary>Builds the loss algebra's expression from the actor config: objective (+ dual clip), aggregation,
/// + alpha·SFT on correct rollouts, + KL; errors name the config key and, for a name, the nearest valid one.</summary>
public static class RlLossFactory
{
    static readonly (string Name, KlEstimator Estimator)[] KlEstimators =
        [("k1", KlEstimator.K1), ("k2", KlEstimator.K2), ("k3", KlEstimator.K3), ("k3+", KlEstimator.K3Plus)];

    /// <summary>The loss around <paramref name="objective"/> (built by <see cref="Objective"/> from the same config).</summary>
    public static Loss Create(ActorConfig a, PolicyObjective objective, int maxResponseTokens)
    {
        var loss = Loss.Aggregate(Aggregation(a, maxResponseTokens), objective);
        // The KL estimator is parsed even when its coefficient is 0, so a misspelt name never waits for a later run.
        var kl = Kl(a.KlLossType);
        Finite("actor.sft_loss_coef", a.SftLossCoef);
        Finite("actor.kl_loss_coef", a.KlLossCoef);
        Finite("actor.entropy_coeff", a.EntropyCoeff);
        if (a.SftLossCoef != 0) loss = loss + a.SftLossCoef * Loss.SftOnCorrect;
        if (a.KlLossCoef != 0) loss = loss + a.KlLossCoef * Loss.KlPenalty(kl);
        if (a.EntropyCoeff != 0) loss = loss + a.EntropyCoeff * Loss.EntropyBonus;
        return loss;
    }

    /// <summary>The policy objective the trainer optimises: the one builder of the registry (Objective.fromSettings).</summary>
    public static PolicyObjective Objective(ActorConfig a)
    {
        try { return Klear.Algorithms.Objective.fromSettings(a.PolicyLoss, a.ClipRatioLow, a.ClipRatioHigh, a.ClipRatioC, a.Beta1, a.Beta2, a.TauPos, a.TauNeg); }
        catch (ObjectiveSettingException e) when (e.Setting == "name")
        {
            throw ConfigException.UnknownName("actor.policy_loss", a.PolicyLoss, Klear.Algorithms.Objective.names);
        }
        catch (ObjectiveSettingException e) { throw new ConfigException($"{ActorKey(e.Setting)}: {e.Message}"); }
    }

    static string ActorKey(string setting) => setting switch
    {
        "eps_low" => "actor.clip_ratio_low",
        "eps_high" => "actor.clip_ratio_high",
        "dual_clip" => "actor.clip_ratio_c",
        "beta1" => "actor.beta1",
        "beta2" => "actor.beta2",
        "tau_pos" => "actor.tau_pos",
        "tau_neg" => "actor.tau_neg",
        _ => "actor.policy_loss",
    };

    static Aggregation Aggregation(ActorConfig a, int maxResponseTokens)
    {
        if (!Klear.Algorithms.Aggregation.Names.Contains(a.LossAggMode.Trim().ToLowerInvariant()))
            throw ConfigException.UnknownName("actor.loss_agg_mode", a.LossAggMode, Klear.Algorithms.Aggregation.Names);
        // A known name can still fail: seq-mean-token-sum-norm divides by the response length.
        return Klear.Algorithms.Aggregation.Parse(a.LossAggMode, maxResponseTokens)
            .OrThrow(e => new ConfigException($"actor.loss_agg_mode: {e} (rollout.max_new_tokens)"));
    }

    static KlEstimator Kl(string name)
    {
        foreach (var (n, k) in KlEstimators)
            if (string.Equals(n, name?.Trim(), StringComparison.OrdinalIgnoreCase)) return k;
        throw ConfigException.UnknownName("actor.kl_loss_type", name, KlEstimators.Select(k => k.Name));
    }

    static void Finite(string key, double value)
    {
        if (!double.IsFinite(value)) throw new ConfigException($"{key} must be a finite number, got {value}");
    }
}
