namespace Klear.Algorithms

open System
open System.Collections.Generic
open TorchSharp

/// One mini- or micro-batch of response tokens, every tensor [B, T]. `Logp` carries the gradient; the rest is data.
/// `IsWeights` are optional per-token importance weights (the rollout–trainer mismatch correction, RolloutCorrection),
/// a detached factor on every objective's per-token loss.
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

    /// A checked batch, its mask in the dtype of the log-probs. Everything but `logp` is data: it is detached here,
    /// so no gradient can flow into old log-probs, advantages or the mask whatever the caller passes.
    let create (logp: Tensor) (oldLogp: Tensor) (advantages: Tensor) (mask: Tensor) =
        validate
            { Logp = logp
              OldLogp = Tensors.sg oldLogp
              Advantages = Tensors.sg advantages
              Mask = Tensors.sg (mask.to_type logp.dtype)
              IsWeights = None }

    /// The batch with per-token importance weights [B, T] (detached), or without any (None).
    let withIsWeights (weights: Tensor option) (b: PolicyBatch) =
        validate { b with IsWeights = weights |> Option.map (fun w -> Tensors.sg (w.to_type b.Logp.dtype)) }

type PolicyBatch with
    /// `PolicyBatch.create` for C#.
    static member Create(logp, oldLogp, advantages, mask) = PolicyBatch.create logp oldLogp advantages mask

    /// `PolicyBatch.withIsWeights` for C#: null means none.
    member b.WithIsWeights(weights: Tensor) = PolicyBatch.withIsWeights (Option.ofObj weights) b

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

    /// The metric with sum and count widened to float64, so that adding up many micro-batches rounds like a double
    /// accumulator rather than a float32 one.
    let toFloat64 (m: Metric) = { Sum = m.Sum.to_type torch.float64; Count = m.Count.to_type torch.float64 }

    /// Each named metric's `value` as a double, copied off the device in a single read: reading each metric on its
    /// own would synchronise once per metric.
    let readAll (metrics: (string * Metric) seq) : Map<string, float> =
        let named = List.ofSeq metrics
        if named.IsEmpty then Map.empty
        else
            use _scope = torch.NewDisposeScope()
            let stacked = torch.stack (named |> List.map (fun (_, m) -> (value m).to_type torch.float64))
            let read = stacked.cpu().data<float>().ToArray()
            List.zip (List.map fst named) (List.ofArray read) |> Map.ofList

type Metric with
    /// `Metric.value`: Sum / Count, 0 when nothing was counted.
    member m.Value = Metric.value m

    /// `Metric.tokenMean`.
    static member TokenMean(mask: Tensor, x: Tensor) = Metric.tokenMean mask x

    /// `Metric.toFloat64`.
    member m.ToFloat64() = Metric.toFloat64 m

    /// `Metric.readAll` for C#: the values of named metrics as doubles, in one read.
    static member ReadAll(metrics: KeyValuePair<string, Metric> seq) : Dictionary<string, float> =
        Dictionary(Metric.readAll (metrics |> Seq.map (fun kv -> kv.Key, kv.Value)), StringComparer.Ordinal)

/// The per-token output of a term, before aggregation: loss [B, T] and named metrics (peer names, docs/objectives.md).
type TokenLoss =
    { Loss: Tensor
      Metrics: (string * Metric) list }
