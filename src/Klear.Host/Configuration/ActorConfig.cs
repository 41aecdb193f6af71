using System.ComponentModel;
using Klear.Algorithms;

namespace Klear.Host.Configuration;

/// <summary>The RL update (verl's <c>actor</c> keys): objective, clip ranges, extra terms, optimizer. The objective
/// knobs' defaults are the registry's (ObjectiveDefaults); null means the objective's own choice.</summary>
public sealed record ActorConfig
{
    [Description("Policy objective: ppo | clip-higher | gppo | gppo-general | gppo-only-high | cispo | gspo | cispo-capped | ce-gppo | sapo | gmpo (gmpo reads clip_ratio_low/high as log-ratio bounds)")]
    public string PolicyLoss { get; init; } = "gppo";
    [Description("eps_low: a token leaves the trust region below ratio 1 - clip_ratio_low")]
    public double ClipRatioLow { get; init; } = ObjectiveDefaults.EpsLow;
    [Description("eps_high: a token leaves the trust region above ratio 1 + clip_ratio_high; null: the objective's own (ppo: = clip_ratio_low; others: DAPO's clip-higher value; see derived.objective)")]
    public double? ClipRatioHigh { get; init; }
    [Description("Dual-clip constant c: for A<0 the loss is capped at -A·c (the released recipe's; null: off)")]
    public double? ClipRatioC { get; init; } = ObjectiveDefaults.RecipeDualClip;
    [Description("GPPO general: weight of the low (A<0) bound's value and gradient")]
    public double Beta1 { get; init; } = ObjectiveDefaults.Beta;
    [Description("GPPO general: weight of the high (A>0) bound's value and gradient")]
    public double Beta2 { get; init; } = ObjectiveDefaults.Beta;
    [Description("SAPO: temperature of the soft gate for tokens with A > 0 (verl's default)")]
    public double TauPos { get; init; } = ObjectiveDefaults.SapoTauPos;
    [Description("SAPO: temperature of the soft gate for tokens with A <= 0 (verl's default)")]
    public double TauNeg { get; init; } = ObjectiveDefaults.SapoTauNeg;
    [Description("Loss aggregation: token-mean | seq-mean-token-mean | seq-mean-token-sum | seq-mean-token-sum-norm | token-sum")]
    public string LossAggMode { get; init; } = "token-mean";
    [Description("alpha of the NLL term on correct rollouts (paper 0.1; the tiny quickstart needs a stronger anchor)")]
    public double SftLossCoef { get; init; } = 0.5;
    [Description("Weight of the KL penalty against the policy at the start of RL (0: off, no reference copy)")]
    public double KlLossCoef { get; init; } = 0.0;
    [Description("KL estimator: k1 | k2 | k3 | k3+ (k3's value with k2's gradient, straight-through)")]
    public string KlLossType { get; init; } = "k3";
    [Description("Weight of the entropy bonus (0: off)")]
    public double EntropyCoeff { get; init; } = 0.0;
    [Description("AdamW learning rate of RL (constant after warm-up)")]
    public double Lr { get; init; } = 1e-5;
    [Description("RL steps of linear LR warm-up")]
    public int WarmupSteps { get; init; } = 0;
    [Description("AdamW weight decay")]
    public double WeightDecay { get; init; } = 0.1;
    [Description("Gradient norm clip")]
    public double GradClip { get; init; } = 1.0;
    [Description("Optimizer steps per rollout batch (later mini-batches are off-policy)")]
    public int MiniBatches { get; init; } = 2;
    [Description("Micro-batches per mini-batch (gradient accumulation; exact for every aggregation mode)")]
    public int MicroBatches { get; init; } = 1;
    [Description("Token budget per micro-batch (verl's dynamic batch size): a mini-batch's sequences sorted by length and packed into micro-batches of rows × longest ≤ this, each cut to its longest row, so padding is not computed; 0: off (micro_batches equal parts)")]
    public int MicroMaxTokens { get; init; }
    [Description("Responses cut off at rollout.max_new_tokens leave the loss: every term's numerator and denominator")]
    public bool MaskTruncated { get; init; } = false;
    [Description("Recompute each decoder layer in backward instead of storing its activations: a forward keeps one [B, T, hidden] input per layer, for about a third more compute per update (same gradients)")]
    public bool ActivationCheckpointing { get; init; } = false;
}
