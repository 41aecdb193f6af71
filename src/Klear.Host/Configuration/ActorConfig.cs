namespace Klear.Host.Configuration;

/// <summary>The RL update (verl's <c>actor</c> keys): objective, clip ranges, extra terms, optimizer.</summary>
public sealed record ActorConfig
{
    /// <summary>ppo | clip-higher | gppo | gppo-general | gppo-only-high | cispo | gspo.</summary>
    public string PolicyLoss { get; init; } = "gppo";
    public double ClipRatioLow { get; init; } = 0.2;
    public double ClipRatioHigh { get; init; } = 0.28;
    /// <summary>Dual-clip constant c (null: off).</summary>
    public double? ClipRatioC { get; init; } = 10.0;
    /// <summary>GPPO general: weight of the low (A&lt;0) bound's gradient.</summary>
    public double Beta1 { get; init; } = 1.0;
    /// <summary>GPPO general: weight of the high (A&gt;0) bound's gradient.</summary>
    public double Beta2 { get; init; } = 1.0;
    /// <summary>token-mean | seq-mean-token-mean | seq-mean-token-sum | seq-mean-token-sum-norm.</summary>
    public string LossAggMode { get; init; } = "token-mean";
    /// <summary>alpha of the NLL term on correct rollouts (paper 0.1; the tiny quickstart needs a stronger anchor).</summary>
    public double SftLossCoef { get; init; } = 0.5;
    public double KlLossCoef { get; init; } = 0.0;
    /// <summary>k1 | k2 | k3.</summary>
    public string KlLossType { get; init; } = "k3";
    public double EntropyCoeff { get; init; } = 0.0;
    public double Lr { get; init; } = 1e-5;
    public int WarmupSteps { get; init; } = 0;
    public double WeightDecay { get; init; } = 0.1;
    public double GradClip { get; init; } = 1.0;
    /// <summary>Optimizer steps per rollout batch (later mini-batches are off-policy).</summary>
    public int MiniBatches { get; init; } = 2;
    /// <summary>Micro-batches per mini-batch (gradient accumulation; exact for every aggregation mode).</summary>
    public int MicroBatches { get; init; } = 1;
}
