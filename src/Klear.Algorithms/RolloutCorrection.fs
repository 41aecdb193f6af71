namespace Klear.Algorithms

open TorchSharp

/// How the trainer corrects for the sampler not being the policy it scores with (verl's rollout correction, TRL's
/// vLLM importance-sampling correction). The sampler keeps the log-prob of each drawn token under the distribution it
/// really drew from (temperature, top-k/top-p renormalised); the trainer's `old_logp` is the full distribution's.
type RolloutCorrection =
    { /// TIS: token weight min(π_old/π_sampler, C) (Yao et al. 2025, "truncated importance sampling"); None: off.
      TisCap: float option
      /// MIS: a sequence whose ratio Π_t π_old/π_sampler leaves [lo, hi] gets weight 0 (masked IS); None: off.
      MisBounds: (float * float) option }

    static member None = { TisCap = None; MisBounds = None }

/// The per-token weights and the mismatch metrics, from log-probs [B, T] and the response mask.
module RolloutCorrection =
    /// The first bad setting as (setting, message), or None.
    let problem (c: RolloutCorrection) =
        match c.TisCap, c.MisBounds with
        | Some cap, _ when not (cap > 0.0 && System.Double.IsFinite cap) -> Some("tis_cap", $"the TIS cap must be > 0, got {cap}")
        | _, Some(lo, hi) when not (lo >= 0.0 && hi > lo && System.Double.IsFinite hi) ->
            Some("mis_bounds", $"the MIS bounds need 0 <= lo < hi, got [{lo}, {hi}]")
        | _ -> None

    let isActive (c: RolloutCorrection) = c.TisCap.IsSome || c.MisBounds.IsSome

    /// Detached weights [B, T] (None when the correction is off) and metrics, every one a token mean over `mask`:
    /// `rollout_corr/kl` (k1 of KL(π_sampler‖π_old): sampler - old), `rollout_corr/k3_kl` (k3 of the same:
    /// ρ - ln ρ - 1 with ρ = π_old/π_sampler), `rollout_corr/tis_truncated_frac` (tokens whose ρ exceeded C),
    /// `rollout_corr/mis_masked_frac` (tokens of sequences MIS dropped) and `rollout_corr/is_weight_mean`.
    /// Log-ratios are clamped to ±20 before exp, as every ratio here.
    let weights (c: RolloutCorrection) (oldLogp: Tensor) (samplerLogp: Tensor) (mask: Tensor) =
        Tensors.requireSameShape "oldLogp" oldLogp "samplerLogp" samplerLogp
        Tensors.requireSameShape "oldLogp" oldLogp "mask" mask
        problem c |> Option.iter (fun (_, m) -> invalidArg "c" m)
        use _noGrad = torch.no_grad ()
        let mask = mask.to_type oldLogp.dtype
        let logRho = ((oldLogp - samplerLogp) * mask).clamp (Tensors.scalar -20.0, Tensors.scalar 20.0)
        let rho = logRho.exp ()
        let ones = torch.ones_like rho
        let tis, truncated =
            match c.TisCap with
            | Some cap -> rho.clamp_max (Tensors.scalar cap), Tensors.indicator rho (rho.gt (Tensors.scalar cap))
            | None -> ones, torch.zeros_like rho
        let keep, masked =
            match c.MisBounds with
            | Some(lo, hi) ->
                let seqLog = logRho.sum(1L, keepdim = true).clamp (Tensors.scalar -20.0, Tensors.scalar 20.0)
                let seqRho = seqLog.exp ()
                let inside = seqRho.ge(Tensors.scalar lo).logical_and (seqRho.le (Tensors.scalar hi))
                let keep = Tensors.indicator rho inside
                keep.expand_as rho, (Tensors.scalar 1.0 - keep).expand_as rho
            | None -> ones, torch.zeros_like rho
        let w = tis * keep
        let metrics =
            [ "rollout_corr/kl", Metric.tokenMean mask (samplerLogp - oldLogp)
              "rollout_corr/k3_kl", Metric.tokenMean mask (rho - logRho - Tensors.scalar 1.0)
              "rollout_corr/tis_truncated_frac", Metric.tokenMean mask truncated
              "rollout_corr/mis_masked_frac", Metric.tokenMean mask masked
              "rollout_corr/is_weight_mean", Metric.tokenMean mask w ]
        (if isActive c then Some w else None), metrics

type RolloutCorrection with
    /// `RolloutCorrection.isActive`: TIS or MIS is on.
    member c.IsActive = RolloutCorrection.isActive c

    /// `RolloutCorrection.weights` for C#: the weights (null when the correction is off) and the named metrics.
    member c.Weights(oldLogp: Tensor, samplerLogp: Tensor, mask: Tensor) : struct (Tensor * System.Collections.Generic.KeyValuePair<string, Metric> list) =
        let w, metrics = RolloutCorrection.weights c oldLogp samplerLogp mask
        struct (Option.toObj w, metrics |> List.map (fun (k, m) -> System.Collections.Generic.KeyValuePair(k, m)))

    /// A correction from plain values (what the config holds): null turns that part off.
    static member Of(tisCap: System.Nullable<float>, misLow: System.Nullable<float>, misHigh: System.Nullable<float>) =
        { TisCap = Option.ofNullable tisCap
          MisBounds = if misLow.HasValue && misHigh.HasValue then Some(misLow.Value, misHigh.Value) else None }
