using Klear.Algorithms;
using Klear.Host.Cli;
using Microsoft.FSharp.Core;

namespace Klear.Host.Training;

/// <summary>Builds the loss algebra's expression from the actor config: objective (+ dual clip), aggregation,
/// + alpha·SFT on correct rollouts, + KL; errors name the config key.</summary>
public static class RlLossFactory
{
    public static Loss Create(ActorConfig a, int maxResponseTokens)
    {
        var name = Objective.parse(a.PolicyLoss);
        if (name.IsError) throw new ConfigException($"actor.policy_loss: {name.ErrorValue}");
        var settings = new ObjectiveSettings(a.ClipRatioLow, FSharpOption<double>.Some(a.ClipRatioHigh),
            a.ClipRatioC is { } c ? FSharpOption<double>.Some(c) : null, a.Beta1, a.Beta2);
        var objective = Objective.build(name.ResultValue, settings);
        if (objective.IsError) throw new ConfigException($"actor: {objective.ErrorValue}");
        var agg = AggregationModule.parse(a.LossAggMode, maxResponseTokens);
        if (agg.IsError) throw new ConfigException($"actor.loss_agg_mode: {agg.ErrorValue}");

        var loss = LossModule.aggregate(agg.ResultValue, objective.ResultValue);
        if (a.SftLossCoef != 0) loss = loss + a.SftLossCoef * LossModule.sftOnCorrect;
        if (a.KlLossCoef != 0)
        {
            var k = a.KlLossType.ToLowerInvariant() switch
            {
                "k1" => KlEstimator.K1, "k2" => KlEstimator.K2, "k3" => KlEstimator.K3,
                _ => throw new ConfigException($"actor.kl_loss_type: unknown '{a.KlLossType}'; valid: k1, k2, k3"),
            };
            loss = loss + a.KlLossCoef * LossModule.klPenalty(k);
        }
        if (a.EntropyCoeff != 0) loss = loss + a.EntropyCoeff * LossModule.entropyBonus;
        return loss;
    }
}
