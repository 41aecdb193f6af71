namespace Klear.Algorithms

open TorchSharp

/// The importance ratio r = exp(logp - oldLogp), written once for every objective.
type Ratio =
    { LogRatio: Tensor
      R: Tensor }

module Ratio =
    /// The log-ratio is clamped to ±20 (as verl does) so one stale token cannot overflow exp; beyond that the
    /// gradient is zero, which no clip region reaches in practice.
    let private ofLogRatio (logRatio: Tensor) =
        let lr = logRatio.clamp (Tensors.scalar -20.0, Tensors.scalar 20.0)
        { LogRatio = lr; R = lr.exp () }

    /// Token-level ratio (PPO, GPPO, CISPO).
    let token (b: PolicyBatch) = ofLogRatio (b.Logp - b.OldLogp)

    /// GSPO's sequence-level ratio s = exp(mean_t(logp - oldLogp)) over each row's response tokens, applied to
    /// every token as sg(s)·exp(logp - sg(logp)): value s, gradient s·∇logp per token.
    let sequence (b: PolicyBatch) =
        let count = b.Mask.sum(1L, keepdim = true).clamp_min (Tensors.scalar 1.0)
        let seqLogRatio = ((b.Logp - b.OldLogp) * b.Mask).sum(1L, keepdim = true) / count
        let s = ofLogRatio seqLogRatio
        let perToken = Tensors.sg (s.R.expand_as b.Logp) * (b.Logp - Tensors.sg b.Logp).exp ()
        { LogRatio = s.LogRatio.expand_as b.Logp; R = perToken }
