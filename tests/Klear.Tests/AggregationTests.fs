/// Aggregation modes, gradient accumulation over micro-batches, and properties of the composed loss.
module Klear.Tests.AggregationTests

open System
open Expecto
open TorchSharp
open Klear.Algorithms
open Klear.Tests.TestTensors

let handValues =
    test "each mode on a hand-computed 2×3 example" {
        use _scope = torch.NewDisposeScope()
        let loss = tensor2 [| [| 1.0; 2.0; 3.0 |]; [| 4.0; 5.0; 99.0 |] |]
        let mask = tensor2 [| [| 1.0; 1.0; 1.0 |]; [| 1.0; 1.0; 0.0 |] |]
        let norm = Aggregation.normaliserOf mask
        let value mode = scalarOf (Aggregation.apply mode norm mask loss)
        Expect.floatClose tight (value TokenMean) (15.0 / 5.0) "token-mean: 15 / 5 tokens"
        Expect.floatClose tight (value SeqMeanTokenMean) ((6.0 / 3.0 + 9.0 / 2.0) / 2.0) "seq-mean-token-mean"
        Expect.floatClose tight (value SeqMeanTokenSum) ((6.0 + 9.0) / 2.0) "seq-mean-token-sum"
        Expect.floatClose tight (value (SeqMeanTokenSumNorm 4.0)) (15.0 / (2.0 * 4.0)) "seq-mean-token-sum-norm, length 4"
        Expect.floatClose tight (value TokenSum) 15.0 "token-sum: 15, no division"
    }

/// A random mini-batch: B rows of length T with random response lengths (row 1 empty), log-probs with a gradient
/// leaf, advantages per row, and a correctness flag per row.
type private Batch = RandomBatch

let private randomBatch = TestTensors.randomBatch 0.6

let private inputs (batch: Batch) (start: int64) (length: int64) =
    let rows (x: torch.Tensor) = x.narrow (0L, start, length)
    { Policy = PolicyBatch.create (rows batch.Leaf) (rows batch.Old) (rows batch.Adv) (rows batch.Mask)
      Correct = Some(rows batch.Correct)
      RefLogp = Some(rows batch.Old)
      Entropy = None }

let private modes = [ TokenMean; SeqMeanTokenMean; SeqMeanTokenSum; SeqMeanTokenSumNorm 7.0; TokenSum ]

let private composed mode objective =
    Loss.aggregate mode (Objective.dualClip 10.0 objective)
    |> Loss.plus (0.1 * Loss.sftOnCorrectWith mode)
    |> Loss.plus (0.05 * Loss.klPenalty K3)

// Gradient accumulation, A = 0 and masked tokens are properties of every objective: ObjectiveContractTests.

let finiteDifferenceOfAggregate =
    test "token-mean clip-higher + 0.1·SFT + 0.05·KL: autograd gradient of the scalar loss = central differences" {
        use _scope = torch.NewDisposeScope()
        let batch = randomBatch 3 3 4
        let loss = composed TokenMean (Clipped(Ppo.clipHigher ClipRange.Default))
        let total (leaf: torch.Tensor) = Loss.evaluate loss (inputs { batch with Leaf = leaf } 0L 3L)
        (total batch.Leaf).Total.backward ()
        let grad = values batch.Leaf.grad
        let start = values batch.Leaf
        let h = 1e-6
        let numeric =
            Array.init start.Length (fun k ->
                let at delta =
                    let shifted = Array.copy start
                    shifted[k] <- shifted[k] + delta
                    scalarOf (total (torch.tensor(shifted, dtype = torch.float64).reshape (3L, 4L))).Total
                (at h - at -h) / (2.0 * h))
        closeArrays { absolute = 1e-6; relative = 1e-5 } grad numeric "d(loss)/d(logp)"
    }

let properties =
    let config = { FsCheckConfig.defaultConfig with maxTest = 60 }
    testList "properties" [
        testPropertyWithConfig config "gppo's forward equals clip-higher's exactly; gradients differ only on clipped tokens" (fun (seed: int) ->
            use _scope = torch.NewDisposeScope()
            let batch = randomBatch seed 5 8
            let run objective =
                let leaf = batch.Leaf.detach().requires_grad_ true
                let tokens = Objective.tokenLoss (Objective.dualClip 10.0 objective) (PolicyBatch.create leaf batch.Old batch.Adv batch.Mask)
                tokens.Loss.sum().backward ()
                values tokens.Loss, values leaf.grad
            let lossC, gradC = run (Clipped(Ppo.clipHigher ClipRange.Default))
            let lossG, gradG = run (Clipped(Gppo.gppo ClipRange.Default))
            Expect.sequenceEqual lossG lossC "forward values bit for bit"
            let r = values ((batch.Leaf - batch.Old).exp ())
            let adv = values batch.Adv
            for k in 0 .. r.Length - 1 do
                let clipped = (adv[k] > 0.0 && r[k] > 1.28) || (adv[k] < 0.0 && r[k] < 0.8)
                if not clipped then Expect.floatClose tight gradG[k] gradC[k] $"unclipped token {k}: same gradient"
                else
                    Expect.equal gradC[k] 0.0 $"clipped token {k}: clip-higher gives none"
                    Expect.isTrue (abs gradG[k] > 0.0) $"clipped token {k}: gppo keeps one")
    ]

/// The rows `actor.mask_truncated` drops (rows 2 and 5 of 7) leave numerator and every denominator alike: the loss is
/// the loss of the batch without them (the TRL bug left them in the denominators), accumulated or not.
let maskTruncated =
    let keepFlags = [| 1.0; 1.0; 0.0; 1.0; 1.0; 0.0; 1.0 |]
    testList "keepRows (actor.mask_truncated): dropped rows leave every numerator and denominator" [
        for mode in modes do
            for name in Objective.names do
                test $"{Aggregation.name mode}, {name}" {
                    let objective = Objective.fromSettings (name, Nullable(), Nullable(), Nullable(), Nullable(), Nullable(), Nullable(), Nullable())
                    use _scope = torch.NewDisposeScope()
                    let keep = tensor1 keepFlags
                    // Accumulated over uneven micro-batches with the rows dropped = one batch with them dropped.
                    let grad, total = ObjectiveContractTests.accumulationMatches 31 mode objective [ 2; 3 ] (Some keep)
                    ObjectiveContractTests.accumulationMatches 31 mode objective [ 5 ] (Some keep) |> ignore
                    // ... = the loss of the batch the dropped rows were never in.
                    let keptRows = [| 0L; 1L; 3L; 4L; 6L |]
                    let sub, subTotal = ObjectiveContractTests.lossWithoutRows 31 mode objective keptRows
                    Expect.floatClose tight total subTotal "loss = loss of the batch without the dropped rows"
                    let t = grad.Length / 7
                    for r in 0..6 do
                        for c in 0 .. t - 1 do
                            let g = grad[r * t + c]
                            match Array.tryFindIndex ((=) (int64 r)) keptRows with
                            | Some i -> Expect.floatClose tight g sub[i * t + c] $"row {r} token {c}: same gradient"
                            | None -> Expect.equal g 0.0 $"dropped row {r} token {c}: no gradient"
                }
    ]

[<Tests>]
let tests = testList "aggregation" [ handValues; finiteDifferenceOfAggregate; properties; maskTruncated ]
