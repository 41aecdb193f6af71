namespace Klear.Algorithms

/// GPPO, Gradient-Preserving clipping Policy Optimization (Klear-Reasoner, arXiv 2508.07629).
/// The forward value is clip-higher's; a clipped token keeps a bounded gradient through r/sg(r) instead of none.
/// The loss itself is Ppo.tokenLoss; these builders only say which bound keeps its gradient.
module Gppo =
    /// Klear-Reasoner Eq. 11: both bounds keep their gradient, β1 = β2 = 1.
    let gppo (range: ClipRange) =
        { Range = range; Low = Preserve 1.0; High = Preserve 1.0; DualClip = None; Level = TokenRatio }

    /// Klear-Reasoner Eq. 17–18 (Appendix A.2): β1 scales the low bound (A<0), β2 the high bound (A>0), in value and
    /// gradient. The authors later recommend β1 ∈ {0.25, 0.5}, β2 = 1 against entropy collapse.
    let gppoGeneral (range: ClipRange) (beta1: float) (beta2: float) =
        if not (beta1 >= 0.0 && System.Double.IsFinite beta1) then invalidArg "beta1" $"beta1 must be >= 0, got {beta1}"
        if not (beta2 >= 0.0 && System.Double.IsFinite beta2) then invalidArg "beta2" $"beta2 must be >= 0, got {beta2}"
        { gppo range with Low = Preserve beta1; High = Preserve beta2 }

    /// GPPO "only high": only the upper bound keeps its gradient; the lower bound stops it as in PPO. (The released
    /// code meant this but never reaches it: `only_higher` vs `only_high`.)
    let gppoOnlyHigh (range: ClipRange) = { gppo range with Low = Stop }
