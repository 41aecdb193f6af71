namespace Klear.Algorithms

open TorchSharp

/// CISPO (MiniMax-M1; Klear-Reasoner Appendix A.1): REINFORCE with a clipped, stop-gradient importance weight.
module Cispo =
    /// Klear-Reasoner Eq. 15–16: l = -sg(w(r))·A·logp, so every token, clipped or not, keeps gradient -w·A.
    let tokenLoss (bound: CispoBound) (b: PolicyBatch) : TokenLoss =
        let ratio = Ratio.token b
        let weight =
            match bound with
            | Clamp range -> ratio.R.clamp (Tensors.scalar (1.0 - range.EpsLow), Tensors.scalar (1.0 + range.EpsHigh))
            | UpperCap epsMax -> ratio.R.clamp_max (Tensors.scalar epsMax)
            |> Tensors.sg
        let loss = -weight * b.Advantages * b.Logp
        let clipped = Tensors.indicator ratio.R (weight.ne ratio.R)
        { Loss = loss
          Metrics =
            [ "actor/pg_clipfrac", Metric.tokenMean b.Mask clipped
              "actor/ppo_kl", Metric.tokenMean b.Mask (-ratio.LogRatio) ] }

    /// The MiniMax-M1 convention: clamp to [1 - εl, 1 + εh].
    let cispo (range: ClipRange) = Clamp range

    /// The TRL convention: only an absolute cap sg(min(r, εmax)), no lower bound.
    let cispoCapped (epsMax: float) =
        if not (epsMax > 0.0) then invalidArg "epsMax" $"epsMax must be > 0, got {epsMax}"
        UpperCap epsMax
