using System.Text.Json.Nodes;
using Klear.Algorithms;
using Klear.Host.Configuration;

namespace Klear.Host.Training;

/// <summary>The values a configuration implies but does not state, as a run records them (config.yaml's
/// <c>derived:</c> section, which the binder skips when the file is read back).</summary>
public static class DerivedSettings
{
    public static JsonObject Of(RunConfig config, PolicyObjective objective, int? sftSteps)
    {
        var drawn = RlComponents.PromptsDrawn(config.Trainer);
        return new JsonObject
        {
            ["prompts_drawn_per_step"] = drawn,
            ["rollouts_per_step"] = drawn * config.Rollout.N,
            ["sft_steps"] = sftSteps,
            ["objective"] = Objective(config.Actor.PolicyLoss, objective),
        };
    }

    /// <summary>The clip settings the loss really applies; a bound's beta is 0 when it stops the gradient (PPO);
    /// GMPO's eps are log-space; SAPO has no clip, only its temperatures.</summary>
    public static JsonObject Objective(string name, PolicyObjective objective)
    {
        var (epsLow, epsHigh, dualClip, betaLow, betaHigh) = Klear.Algorithms.Objective.effective(objective);
        static JsonNode? Number(double x) => double.IsNaN(x) ? null : JsonValue.Create(x);
        var json = new JsonObject
        {
            ["name"] = name.Trim().ToLowerInvariant(),
            ["eps_low"] = Number(epsLow),
            ["eps_high"] = Number(epsHigh),
            ["dual_clip"] = Number(dualClip),
            ["low_bound_gradient_beta"] = Number(betaLow),
            ["high_bound_gradient_beta"] = Number(betaHigh),
        };
        // Only SAPO has temperatures; the other objectives' records stay as they were.
        var (tauPos, tauNeg) = Klear.Algorithms.Objective.temperatures(objective);
        if (!double.IsNaN(tauPos)) (json["tau_pos"], json["tau_neg"]) = (tauPos, tauNeg);
        return json;
    }
}
