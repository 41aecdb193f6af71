namespace Klear.Algorithms

open TorchSharp

/// PPO's clipped surrogate and the family built on it; the region masks and the clip are written here once.
module Ppo =
    let private ifThen (cond: Tensor) (a: Tensor) (b: Tensor) = torch.where (cond, a, b)

    /// The bound of a clip region as a tensor: constant (PPO: no gradient) or β·bound·r/sg(r) (GPPO: value β·bound,
    /// gradient β·bound·∇logp).
    let private bound (r: Tensor) (value: float) (gradient: BoundGradient) =
        match gradient with
        | Stop -> Tensors.full r value
        | Preserve beta -> r / Tensors.sg r * Tensors.scalar (beta * value)

    /// Klear-Reasoner Eq. 5–7 (PPO / DAPO clip-higher), Eq. 11 (GPPO), Eq. 17–18 (GPPO general), plus dual clip.
    /// max(-A·r, -A·clip(r)) is exactly: -A·bound inside the low region (A<0, r<1-εl) and the high region
    /// (A>0, r>1+εh), -A·r elsewhere; written with the regions so β and the preserved gradient slot in.
    let tokenLoss (spec: ClipSpec) (b: PolicyBatch) : TokenLoss =
        let ratio = match spec.Level with TokenRatio -> Ratio.token b | SequenceRatio -> Ratio.sequence b
        let r, adv = ratio.R, b.Advantages
        let low = adv.lt(Tensors.scalar 0.0).logical_and (r.lt (Tensors.scalar (1.0 - spec.Range.EpsLow)))
        let high = adv.gt(Tensors.scalar 0.0).logical_and (r.gt (Tensors.scalar (1.0 + spec.Range.EpsHigh)))
        let clipped =
            ifThen high (-adv * bound r (1.0 + spec.Range.EpsHigh) spec.High)
                (ifThen low (-adv * bound r (1.0 - spec.Range.EpsLow) spec.Low) (-adv * r))
        // Dual clip (Ye et al. 2020): for A<0 the loss is capped at -A·c, a constant, so r>c tokens are silent.
        let dual =
            match spec.DualClip with
            | Some c -> adv.lt(Tensors.scalar 0.0).logical_and (clipped.gt (-adv * Tensors.scalar c))
            | None -> torch.zeros_like(r, dtype = torch.ScalarType.Bool)
        let loss =
            match spec.DualClip with
            | Some c -> ifThen dual (Tensors.sg (-adv * Tensors.scalar c)) clipped
            | None -> clipped
        let loss = match b.IsWeights with Some w -> loss * Tensors.sg w | None -> loss
        let on = Tensors.indicator r
        let preserved =
            let keeps = function Preserve _ -> true | Stop -> false
            let none = Tensors.full r 0.0
            ((if keeps spec.Low then on low else none) + (if keeps spec.High then on high else none)) * (Tensors.full r 1.0 - on dual)
        // |dl/dlogp| per token from the closed form, to report the preserved tokens' share of the gradient.
        let gradWeight =
            let beta = function Preserve b -> b | Stop -> 0.0
            let f =
                ifThen high (Tensors.full r (beta spec.High * (1.0 + spec.Range.EpsHigh)))
                    (ifThen low (Tensors.full r (beta spec.Low * (1.0 - spec.Range.EpsLow))) (Tensors.sg r))
            (adv.abs () * f * (Tensors.full r 1.0 - on dual)).detach ()
        { Loss = loss
          Metrics =
            [ "actor/pg_clipfrac", Metric.tokenMean b.Mask (on (low.logical_or high))
              "actor/pg_clipfrac_lower", Metric.tokenMean b.Mask (on dual)
              "actor/ppo_kl", Metric.tokenMean b.Mask (-ratio.LogRatio)
              "actor/gppo_preserved_frac", Metric.tokenMean b.Mask preserved
              "actor/gppo_preserved_grad_share", Metric.share b.Mask preserved gradWeight ] }

    /// PPO with a symmetric clip range (Eq. 5).
    let ppo (eps: float) =
        { Range = { EpsLow = eps; EpsHigh = eps }; Low = Stop; High = Stop; DualClip = None; Level = TokenRatio }

    /// DAPO clip-higher (Eq. 7): a wider upper bound lets low-probability tokens grow.
    let clipHigher (range: ClipRange) =
        { Range = range; Low = Stop; High = Stop; DualClip = None; Level = TokenRatio }
