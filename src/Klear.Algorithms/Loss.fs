namespace Klear.Algorithms

open System.Collections.Generic
open TorchSharp

/// What the terms of a loss may read. Policy tensors are [B, T]; `Correct` is [B] (1 where the rollout counts as
/// correct, for the SFT term); `RefLogp` [B, T] for KL; `Entropy` [B, T] (Terms.entropyFromLogits) for the bonus.
type LossInputs =
    { Policy: PolicyBatch
      Correct: Tensor option
      RefLogp: Tensor option
      Entropy: Tensor option }

/// One weighted, aggregated term: which tokens it covers, their per-token loss, and how they become a scalar.
type LossPart =
    { Name: string
      Weight: float
      Aggregation: Aggregation
      Select: LossInputs -> Tensor
      Tokens: LossInputs -> Tensor -> TokenLoss }

/// A loss is a weighted sum of aggregated terms: `objective |> aggregate TokenMean |> plus (0.1 * sftOnCorrect)`.
type Loss =
    { Parts: LossPart list }

    static member (+)(a: Loss, b: Loss) = { Parts = a.Parts @ b.Parts }
    static member (*)(w: float, l: Loss) = { Parts = l.Parts |> List.map (fun p -> { p with Weight = w * p.Weight }) }

/// The scalar to backpropagate and the metrics (sum/count, see Metric) of one (micro-)batch.
type LossOutput =
    { Total: Tensor
      Metrics: Map<string, Metric> }

module Loss =
    let private require (what: string) (value: Tensor option) =
        match value with
        | Some t -> t
        | None -> invalidArg what $"this loss has a term that needs {what}, but LossInputs.{what} is None"

    let private part name aggregation select tokens =
        { Parts = [ { Name = name; Weight = 1.0; Aggregation = aggregation; Select = select; Tokens = tokens } ] }

    /// The policy objective over all response tokens, aggregated by `mode`. Metric `actor/pg_loss`.
    let aggregate (mode: Aggregation) (objective: PolicyObjective) =
        part "actor/pg_loss" mode (fun i -> i.Policy.Mask) (fun i _ -> Objective.tokenLoss objective i.Policy)

    /// NLL on the response tokens of correct rollouts (Klear-Reasoner Eq. 13–14), aggregated by `mode`.
    let sftOnCorrectWith (mode: Aggregation) =
        let select (i: LossInputs) =
            let correct = require "Correct" i.Correct
            if correct.dim () <> 1L || correct.shape[0] <> i.Policy.Mask.shape[0] then
                invalidArg "Correct" $"Correct must be [B] = [{i.Policy.Mask.shape[0]}], got {Tensors.shapeText correct}"
            i.Policy.Mask * correct.to_type(i.Policy.Mask.dtype).unsqueeze 1L
        part "actor/sft_loss" mode select (fun i _ -> { Loss = Terms.nll i.Policy.Logp; Metrics = [] })

    /// The paper's SFT term: token-mean NLL over correct rollouts.
    let sftOnCorrect = sftOnCorrectWith TokenMean

    /// KL(π‖π_ref) per token with `estimator`, token-mean. Metric `actor/kl_loss`.
    let klPenalty (estimator: KlEstimator) =
        part "actor/kl_loss" TokenMean (fun i -> i.Policy.Mask) (fun i _ ->
            { Loss = Terms.kl estimator i.Policy.Logp (require "RefLogp" i.RefLogp); Metrics = [] })

    /// Entropy bonus: minimises -H, token-mean. Weight it like `0.001 * entropyBonus`. Metric `actor/entropy_loss`.
    let entropyBonus =
        part "actor/entropy_loss" TokenMean (fun i -> i.Policy.Mask) (fun i mask ->
            let h = require "Entropy" i.Entropy
            { Loss = -h; Metrics = [ "actor/entropy", Metric.tokenMean mask h ] })

    /// `a |> plus b` is a + b, for pipelines.
    let plus (b: Loss) (a: Loss) = a + b

    /// The normalisers of each part for a whole mini-batch given as its micro-batches (mask-only, cheap).
    let normalisers (loss: Loss) (microBatches: LossInputs seq) : Normaliser list =
        let batches = List.ofSeq microBatches
        if batches.IsEmpty then invalidArg "microBatches" "at least one micro-batch is needed"
        loss.Parts
        |> List.map (fun p -> batches |> List.map (p.Select >> Aggregation.normaliserOf) |> List.reduce (+))

    /// Evaluates a micro-batch against the mini-batch normalisers (from `normalisers`); summing the outputs'
    /// Total over the micro-batches gives the mini-batch loss, so accumulated gradients are the one-batch gradient.
    let evaluateMicro (loss: Loss) (norms: Normaliser list) (inputs: LossInputs) : LossOutput =
        if norms.Length <> loss.Parts.Length then
            invalidArg "norms" $"{norms.Length} normalisers for {loss.Parts.Length} parts"
        let parts =
            List.map2 (fun (p: LossPart) (norm: Normaliser) ->
                let select = p.Select inputs
                let tokens = p.Tokens inputs select
                let value = Aggregation.apply p.Aggregation norm select tokens.Loss
                // The share of the mini-batch this micro-batch holds, so the value metric averages back exactly.
                let local = Aggregation.normaliserOf select
                let share =
                    match p.Aggregation with
                    | TokenMean | TokenSum -> local.Tokens / norm.Tokens.clamp_min (Tensors.scalar 1.0)
                    | _ -> local.Sequences / norm.Sequences.clamp_min (Tensors.scalar 1.0)
                let valueMetric = p.Name, { Sum = Tensors.sg value; Count = share }
                Tensors.scalar p.Weight, value, valueMetric :: tokens.Metrics) loss.Parts norms
        let total = parts |> List.map (fun (w, v, _) -> v * w) |> List.reduce (+)
        let metrics =
            parts
            |> List.collect (fun (_, _, m) -> m)
            |> List.groupBy fst
            |> List.map (fun (k, ms) -> k, ms |> List.map snd |> List.reduce (+))
            |> Map.ofList
        { Total = total; Metrics = metrics }

    /// Evaluates a whole mini-batch in one piece.
    let evaluate (loss: Loss) (inputs: LossInputs) = evaluateMicro loss (normalisers loss [ inputs ]) inputs

    /// Inputs with only the policy batch set.
    let inputsOf (batch: PolicyBatch) = { Policy = batch; Correct = None; RefLogp = None; Entropy = None }

    /// The inputs with the rows where `keep` [B] is 0 taken out of every term: their mask becomes 0, so they leave
    /// each numerator and each aggregation denominator alike (`actor.mask_truncated` drops truncated responses so).
    let keepRows (keep: Tensor) (inputs: LossInputs) =
        let mask = inputs.Policy.Mask
        if keep.dim () <> 1L || keep.shape[0] <> mask.shape[0] then
            invalidArg "keep" $"keep must be [B] = [{mask.shape[0]}], got {Tensors.shapeText keep}"
        let kept = mask * Tensors.sg(keep.to_type mask.dtype).unsqueeze 1L
        { inputs with Policy = { inputs.Policy with Mask = kept } }

// The same operations as members, for C# (which sees the module above as `LossModule`).
type LossInputs with
    /// Inputs with only the policy batch set; add the others with the `With…` members.
    static member Of(policy: PolicyBatch) = Loss.inputsOf policy

    /// These inputs with `Correct` set ([B]); null leaves it unset.
    member i.WithCorrect(correct: Tensor) = { i with Correct = Option.ofObj correct }

    /// These inputs with `RefLogp` set ([B, T]); null leaves it unset.
    member i.WithRefLogp(refLogp: Tensor) = { i with RefLogp = Option.ofObj refLogp }

    /// These inputs with `Entropy` set ([B, T]); null leaves it unset.
    member i.WithEntropy(entropy: Tensor) = { i with Entropy = Option.ofObj entropy }

    /// `Loss.keepRows`: rows where `keep` [B] is 0 leave every term; null keeps them all.
    member i.KeepRows(keep: Tensor) = if isNull keep then i else Loss.keepRows keep i

type Loss with
    /// `Loss.aggregate`.
    static member Aggregate(mode: Aggregation, objective: PolicyObjective) = Loss.aggregate mode objective

    /// `Loss.sftOnCorrect`.
    static member SftOnCorrect = Loss.sftOnCorrect

    /// `Loss.sftOnCorrectWith`.
    static member SftOnCorrectWith(mode: Aggregation) = Loss.sftOnCorrectWith mode

    /// `Loss.klPenalty`.
    static member KlPenalty(estimator: KlEstimator) = Loss.klPenalty estimator

    /// `Loss.entropyBonus`.
    static member EntropyBonus = Loss.entropyBonus

    /// `Loss.normalisers`.
    member l.Normalisers(microBatches: LossInputs seq) : IReadOnlyList<Normaliser> = Loss.normalisers l microBatches

    /// `Loss.evaluateMicro`.
    member l.EvaluateMicro(norms: Normaliser seq, inputs: LossInputs) = Loss.evaluateMicro l (List.ofSeq norms) inputs

    /// `Loss.evaluate`.
    member l.Evaluate(inputs: LossInputs) = Loss.evaluate l inputs
