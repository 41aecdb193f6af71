namespace Klear.Algorithms

open TorchSharp

/// PPO's clipped surrogate and the family built on it; the region masks and the clip are written here once.
module Ppo =
    let private ifThen (cond: Tensor) (a: Tensor) (b: Tensor) = torch.where (cond, a, b)

    /// Klear-Reasoner Eq. 5–7 (PPO / DAPO clip-higher), Eq. 11 (GPPO), Eq. 17–18 (GPPO general), plus dual clip.
    /// Every member of the family is l = -A·(v + w·(r - sg(r))) with a detached value v and gradient weight w per
    /// region: inside (A>0, r ≤ 1+εh or A<0, r ≥ 1-εl) v = r, w = 1; in a clip region v = β·bound and w = 0 (PPO stops
    /// the gradient) or w = β·bound/r (GPPO keeps it: dl/dlogp = -A·β·bound); dual-clipped v = c, w = 0. This equals
    /// max(-A·r, -A·clip(r)) in value (exactly: r - sg(r) is 0) and in gradient, and costs the same for every member.
    let tokenLoss (spec: ClipSpec) (b: PolicyBatch) : TokenLoss =
        let ratio = match spec.Level with TokenRatio -> Ratio.token b | SequenceRatio -> Ratio.sequence b
        let r, adv = ratio.R, b.Advantages
        let eL, eH = spec.Range.EpsLow, spec.Range.EpsHigh
        let v, w, low, high, dual =
            use _noGrad = torch.no_grad ()
            let rd = r.detach ()
            let low = adv.lt(Tensors.scalar 0.0).logical_and (rd.lt (Tensors.scalar (1.0 - eL)))
            let high = adv.gt(Tensors.scalar 0.0).logical_and (rd.gt (Tensors.scalar (1.0 + eH)))
            let value bound = function Stop -> bound | Preserve beta -> beta * bound
            let v = ifThen high (Tensors.full rd (value (1.0 + eH) spec.High)) (ifThen low (Tensors.full rd (value (1.0 - eL) spec.Low)) rd)
            let w =
                match spec.High, spec.Low with
                // No bound keeps a gradient (PPO, clip-higher): a 0/1 mask, no division.
                | Stop, Stop -> ifThen (high.logical_or low) (Tensors.full rd 0.0) (Tensors.full rd 1.0)
                // One division for every region: β·bound/r where a bound keeps its gradient, 0 where it stops it,
                // r/r = 1 (exactly) inside.
                | hi, lo ->
                    let weight bound = function Stop -> 0.0 | Preserve beta -> beta * bound
                    ifThen high (Tensors.full rd (weight (1.0 + eH) hi)) (ifThen low (Tensors.full rd (weight (1.0 - eL) lo)) rd) / rd
            match spec.DualClip with
            // For A<0 the loss -A·v exceeds -A·c exactly when v > c (Ye et al. 2020); those tokens are silent.
            | Some c ->
                let dual = adv.lt(Tensors.scalar 0.0).logical_and (v.gt (Tensors.scalar c))
                ifThen dual (Tensors.full rd c) v, ifThen dual (Tensors.full rd 0.0) w, low, high, dual
            | None -> v, w, low, high, torch.zeros_like(rd, dtype = torch.ScalarType.Bool)
        let loss = -adv * (v + w * (r - r.detach ()))
        use _noGrad = torch.no_grad ()
        let on = Tensors.indicator v
        let keeps = function Preserve _ -> true | Stop -> false
        let none = Tensors.full v 0.0
        let notDual = Tensors.full v 1.0 - on dual
        let preserved = ((if keeps spec.Low then on low else none) + (if keeps spec.High then on high else none)) * notDual
        { Loss = loss
          Metrics =
            [ "actor/pg_clipfrac", Metric.tokenMean b.Mask (on (low.logical_or high))
              "actor/pg_clipfrac_lower", Metric.tokenMean b.Mask (on dual)
              "actor/ppo_kl", Metric.tokenMean b.Mask (-ratio.LogRatio)
              "actor/gppo_preserved_frac", Metric.tokenMean b.Mask preserved
              // |dl/dlogp| = |A|·w·r per token: the preserved tokens' share of the log-prob gradient.
              "actor/gppo_preserved_grad_share", Metric.share b.Mask preserved (adv.abs () * w * r.detach ()) ] }

    /// PPO with a symmetric clip range (Eq. 5).
    let ppo (eps: float) =
        { Range = { EpsLow = eps; EpsHigh = eps }; Low = Stop; High = Stop; DualClip = None; Level = TokenRatio }

    /// DAPO clip-higher (Eq. 7): a wider upper bound lets low-probability tokens grow.
    let clipHigher (range: ClipRange) =
        { Range = range; Low = Stop; High = Stop; DualClip = None; Level = TokenRatio }
