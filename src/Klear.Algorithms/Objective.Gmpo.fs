namespace Klear.Algorithms

open TorchSharp

/// GMPO, Geometric-Mean Policy Optimization (Zhao et al., arXiv 2507.20673), as verl's `geo_mean`: each sequence's
/// ratio is the geometric mean of its token ratios, with every token's log-ratio clipped in log space first.
module Gmpo =
    /// Per token, the log-ratio d = logp - oldLogp is clipped in the direction that would raise the objective:
    /// min(d, εh) for A>0, max(d, -εl) for A<0, 0 for A = 0 (sign(A)·min(sign(A)·d, sign(A)·clamp(d)), as verl).
    /// The sequence ratio is R = exp(Σ mask·d' / Σ mask) and every token of the row carries l = -A·R, so under
    /// seq-mean-token-mean a row contributes -mean(A)·R (verl's value); a clipped token gets no gradient, an unclipped
    /// one -mean(A)·R/|y| per row. The mean log-ratio is clamped to ±20, as every ratio here.
    let tokenLoss (spec: GmpoSpec) (b: PolicyBatch) : TokenLoss =
        let d = b.Logp - b.OldLogp
        let eL, eH = spec.LogRange.EpsLow, spec.LogRange.EpsHigh
        let pos, neg, clipped =
            use _noGrad = torch.no_grad ()
            let pos = b.Advantages.gt (Tensors.scalar 0.0)
            let neg = b.Advantages.lt (Tensors.scalar 0.0)
            let dd = d.detach ()
            let clipped = pos.logical_and(dd.gt (Tensors.scalar eH)).logical_or (neg.logical_and (dd.lt (Tensors.scalar -eL)))
            pos, neg, clipped
        let zero = torch.zeros_like d
        let kept = torch.where (clipped, zero, d)
        let bound = torch.where (pos, Tensors.full zero eH, Tensors.full zero -eL)
        let d' = torch.where (pos.logical_or neg, torch.where (clipped, bound, kept), zero)
        let count = b.Mask.sum(1L, keepdim = true).clamp_min (Tensors.scalar 1.0)
        let seqLog = ((d' * b.Mask).sum(1L, keepdim = true) / count).clamp (Tensors.scalar -20.0, Tensors.scalar 20.0)
        let loss = -b.Advantages * seqLog.exp().expand_as b.Logp
        use _noGrad = torch.no_grad ()
        { Loss = loss
          Metrics =
            [ "actor/pg_clipfrac", Metric.tokenMean b.Mask (Tensors.indicator d clipped)
              "actor/ppo_kl", Metric.tokenMean b.Mask (-d) ] }

    /// GMPO with a log-space clip range (the GMPO paper and verl's example use εl = εh = 0.4).
    let gmpo (logRange: ClipRange) = { LogRange = logRange }
