namespace Klear.Algorithms

open TorchSharp

/// How per-token losses become one scalar (verl's names). Each divides by counts of the whole mini-batch, so the
/// micro-batch losses of a split mini-batch add up to its loss and gradient accumulation is exact.
type Aggregation =
    /// Σ mask·l / (tokens in the mini-batch). The paper's choice.
    | TokenMean
    /// Mean over sequences of each sequence's token mean.
    | SeqMeanTokenMean
    /// Mean over sequences of each sequence's token sum.
    | SeqMeanTokenSum
    /// Dr.GRPO: Σ mask·l / (sequences · a constant length), no length bias.
    | SeqMeanTokenSumNorm of length: float
    /// Σ mask·l over the mini-batch, no division (verl's `token-sum`): the loss scale grows with the batch's tokens.
    | TokenSum

/// The counts a mini-batch is normalised by (scalar tensors): selected tokens and sequences with at least one.
type Normaliser =
    { Tokens: Tensor
      Sequences: Tensor }

    static member (+)(a: Normaliser, b: Normaliser) = { Tokens = a.Tokens + b.Tokens; Sequences = a.Sequences + b.Sequences }

module Aggregation =
    let all = [ TokenMean; SeqMeanTokenMean; SeqMeanTokenSum; SeqMeanTokenSumNorm 1.0; TokenSum ]

    let name =
        function
        | TokenMean -> "token-mean"
        | SeqMeanTokenMean -> "seq-mean-token-mean"
        | SeqMeanTokenSum -> "seq-mean-token-sum"
        | SeqMeanTokenSumNorm _ -> "seq-mean-token-sum-norm"
        | TokenSum -> "token-sum"

    /// Parses a verl mode name; `seq-mean-token-sum-norm` needs the constant length (e.g. the max response length).
    let parse (text: string) (normLength: float) =
        match text.Trim().ToLowerInvariant() with
        | "token-mean" -> Ok TokenMean
        | "seq-mean-token-mean" -> Ok SeqMeanTokenMean
        | "seq-mean-token-sum" -> Ok SeqMeanTokenSum
        | "token-sum" -> Ok TokenSum
        | "seq-mean-token-sum-norm" when normLength > 0.0 -> Ok(SeqMeanTokenSumNorm normLength)
        | "seq-mean-token-sum-norm" -> Error $"seq-mean-token-sum-norm needs a positive length, got {normLength}"
        | _ ->
            Error $"""unknown aggregation '{text}'; valid: {all |> List.map name |> String.concat ", "}"""

    /// The counts of one (micro-)batch; add those of all micro-batches to get the mini-batch's.
    let normaliserOf (mask: Tensor) =
        { Tokens = Tensors.sg(mask.sum ())
          Sequences = Tensors.sg(mask.sum(1L).gt(Tensors.scalar 0.0).to_type(mask.dtype).sum ()) }

    let private atLeastOne (t: Tensor) = t.clamp_min (Tensors.scalar 1.0)

    /// The scalar loss of this (micro-)batch under `mode`, divided by the mini-batch counts `norm`.
    let apply (mode: Aggregation) (norm: Normaliser) (mask: Tensor) (loss: Tensor) =
        Tensors.requireSameShape "mask" mask "loss" loss
        match mode with
        | TokenMean -> Tensors.maskedSum mask loss / atLeastOne norm.Tokens
        | SeqMeanTokenMean ->
            // A sequence never straddles micro-batches, so its own token count is local.
            (Tensors.rowSum mask loss / atLeastOne (mask.sum 1L)).sum () / atLeastOne norm.Sequences
        | SeqMeanTokenSum -> Tensors.maskedSum mask loss / atLeastOne norm.Sequences
        | SeqMeanTokenSumNorm length -> Tensors.maskedSum mask loss / (atLeastOne norm.Sequences * Tensors.scalar length)
        | TokenSum -> Tensors.maskedSum mask loss

type Aggregation with
    /// `Aggregation.parse`, for C# (which sees the module as `AggregationModule`).
    static member Parse(text: string, normLength: float) = Aggregation.parse text normLength

    /// Every mode's name, as configs spell them.
    static member Names = Aggregation.all |> List.map Aggregation.name |> Array.ofList
