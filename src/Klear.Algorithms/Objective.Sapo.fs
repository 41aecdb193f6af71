namespace Klear.Algorithms

open TorchSharp

/// SAPO, Soft Adaptive Policy Optimization (Gao et al., arXiv 2511.20347), as verl implements it (`sapo`): a smooth
/// sigmoid gate in place of the hard clip. No token is ever silenced; the gradient fades as r leaves 1.
module Sapo =
    /// l = -A·f(r) with f(r) = (4/τ)·σ(τ·(r - 1)), τ = τ_pos for A>0 and τ_neg otherwise. At r = 1, f = 2/τ and
    /// dl/dlogp = -A (the on-policy gradient); in general dl/dlogp = -A·4·σ·(1 - σ)·r. Nothing is detached.
    let tokenLoss (spec: SapoSpec) (b: PolicyBatch) : TokenLoss =
        let ratio = Ratio.token b
        let tau =
            use _noGrad = torch.no_grad ()
            torch.where (b.Advantages.gt (Tensors.scalar 0.0), Tensors.full b.Advantages spec.TauPos, Tensors.full b.Advantages spec.TauNeg)
        let gate = (tau * (ratio.R - Tensors.scalar 1.0)).sigmoid () * (Tensors.scalar 4.0 / tau)
        { Loss = -b.Advantages * gate
          Metrics = [ "actor/ppo_kl", Metric.tokenMean b.Mask (-ratio.LogRatio) ] }

    /// SAPO with checked temperatures (both must be > 0).
    let sapo (tauPos: float) (tauNeg: float) =
        if not (tauPos > 0.0 && System.Double.IsFinite tauPos) then invalidArg "tauPos" $"tau_pos must be > 0, got {tauPos}"
        if not (tauNeg > 0.0 && System.Double.IsFinite tauNeg) then invalidArg "tauNeg" $"tau_neg must be > 0, got {tauNeg}"
        { TauPos = tauPos; TauNeg = tauNeg }
