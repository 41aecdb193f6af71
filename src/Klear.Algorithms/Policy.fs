namespace Klear.Algorithms

open TorchSharp

/// One mini- or micro-batch of response tokens, every tensor [B, T]. `Logp` carries the gradient; the rest is data.
/// `IsWeights` are optional per-token importance weights (e.g. truncated IS against the rollout engine), detached.
type PolicyBatch =
    { Logp: Tensor
      OldLogp: Tensor
      Advantages: Tensor
      Mask: Tensor
      IsWeights: Tensor option }

module PolicyBatch =
    /// Checks ranks and shapes once at the boundary; every objective relies on it.
    let validate (b: PolicyBatch) =
        Tensors.requireRank "logp" 2 b.Logp
        Tensors.requireSameShape "logp" b.Logp "oldLogp" b.OldLogp
        Tensors.requireSameShape "logp" b.Logp "advantages" b.Advantages
        Tensors.requireSameShape "logp" b.Logp "mask" b.Mask
        b.IsWeights |> Option.iter (Tensors.requireSameShape "logp" b.Logp "isWeights")
        b

    /// A batch with a float mask and no importance weights.
    let create (logp: Tensor) (oldLogp: Tensor) (advantages: Tensor) (mask: Tensor) =
        validate
            { Logp = logp
              OldLogp = oldLogp
              Advantages = advantages
              Mask = mask.to_type logp.dtype
              IsWeights = None }

/// A mean kept as sum and count (scalar tensors), so metrics of micro-batches add up exactly to the mini-batch's;
/// the host divides once per step (no `.item()` sync in the core).
type Metric =
    { Sum: Tensor
      Count: Tensor }

    static member (+)(a: Metric, b: Metric) = { Sum = a.Sum + b.Sum; Count = a.Count + b.Count }

module Metric =
    /// Mean of x over the tokens selected by mask.
    let tokenMean (mask: Tensor) (x: Tensor) =
        { Sum = (Tensors.sg x * mask).sum(); Count = mask.sum() }

    /// Share of `weight` that falls on the tokens where `part` is 1.
    let share (mask: Tensor) (part: Tensor) (weight: Tensor) =
        let w = Tensors.sg weight * mask
        { Sum = (w * part).sum(); Count = w.sum() }

    /// Sum / Count; 0 when nothing was counted.
    let value (m: Metric) =
        torch.where (m.Count.gt (Tensors.scalar 0.0), m.Sum / m.Count.clamp_min (Tensors.scalar 1e-30), torch.zeros_like m.Sum)

/// The per-token output of a term, before aggregation: loss [B, T] and named metrics (peer names, docs/objectives.md).
type TokenLoss =
    { Loss: Tensor
      Metrics: (string * Metric) list }
