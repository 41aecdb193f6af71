using Klear.Host.Configuration;
using Klear.Algorithms;
using Klear.Host.Cli;

namespace Klear.Host.Training;

/// <summary>Builds the loss algebra's expression from the actor config: objective (+ dual clip), aggregation,
/// + alpha·SFT on correct rollouts, + KL; errors name the config key.</summary>
public static class RlLossFactory
{
    public static Loss Create(ActorConfig a, int maxResponseTokens)
    {
        PolicyObjective objective;
        try { objective = ObjectiveOptions.Build(a.PolicyLoss, a.ClipRatioLow, a.ClipRatioHigh, a.ClipRatioC, a.Beta1, a.Beta2); }
        catch (ConfigException e) { throw new ConfigException($"actor: {e.Message}"); }
        var agg = AggregationModule.parse(a.LossAggMode, maxResponseTokens);
        if (agg.IsError) throw new ConfigException($"actor.loss_agg_mode: {agg.ErrorValue}");

        var loss = LossModule.aggregate(agg.ResultValue, objective);
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
