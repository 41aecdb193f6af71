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
    }

/// A random mini-batch: B rows of length T with random response lengths (row 1 empty), log-probs with a gradient
/// leaf, advantages per row, and a correctness flag per row.
type private Batch =
    { Leaf: torch.Tensor
      Old: torch.Tensor
      Adv: torch.Tensor
      Mask: torch.Tensor
      Correct: torch.Tensor }

let private randomBatch (seed: int) (b: int) (t: int) =
    let rng = Random seed
    let u lo hi = lo + (hi - lo) * rng.NextDouble()
    let logp = Array.init (b * t) (fun _ -> u -3.0 -0.01)
    let old = logp |> Array.map (fun x -> x + u -0.6 0.6)
    let advRow = Array.init b (fun _ -> if rng.Next 5 = 0 then 0.0 else u -2.0 2.0)
    let lengths = Array.init b (fun i -> if i = 1 then 0 else rng.Next(1, t + 1))
    let mask = Array.init (b * t) (fun k -> if k % t < lengths[k / t] then 1.0 else 0.0)
    let shape (xs: float[]) = torch.tensor(xs, dtype = torch.float64).reshape (int64 b, int64 t)
    { Leaf = (shape logp).requires_grad_ true
      Old = shape old
      Adv = shape (Array.init (b * t) (fun k -> advRow[k / t]))
      Mask = shape mask
      Correct = tensor1 (Array.init b (fun _ -> if rng.Next 2 = 0 then 1.0 else 0.0)) }

let private inputs (batch: Batch) (start: int64) (length: int64) =
    let rows (x: torch.Tensor) = x.narrow (0L, start, length)
    { Policy = PolicyBatch.create (rows batch.Leaf) (rows batch.Old) (rows batch.Adv) (rows batch.Mask)
      Correct = Some(rows batch.Correct)
      RefLogp = Some(rows batch.Old)
      Entropy = None }

let private modes = [ TokenMean; SeqMeanTokenMean; SeqMeanTokenSum; SeqMeanTokenSumNorm 7.0 ]

let private composed mode objective =
    Loss.aggregate mode (Objective.dualClip 10.0 objective)
    |> Loss.plus (0.1 * Loss.sftOnCorrectWith mode)
    |> Loss.plus (0.05 * Loss.klPenalty K3)

/// Splits rows at `cuts`, accumulates gradients micro-batch by micro-batch, and compares with the one-batch result.
let private accumulationMatches seed mode objective (cuts: int list) =
    use _scope = torch.NewDisposeScope()
    let b, t = 7, 6
    let batch = randomBatch seed b t
    let loss = composed mode objective
    let whole = Loss.evaluate loss (inputs batch 0L (int64 b))
    whole.Total.backward ()
    let wholeGrad = values batch.Leaf.grad
    batch.Leaf.grad.zero_ () |> ignore
    let bounds = (0 :: cuts) @ [ b ] |> List.pairwise
    let micro = bounds |> List.map (fun (s, e) -> inputs batch (int64 s) (int64 (e - s)))
    let norms = Loss.normalisers loss micro
    let outputs = micro |> List.map (Loss.evaluateMicro loss norms)
    outputs |> List.iter (fun o -> o.Total.backward ())
    let summed = outputs |> List.sumBy (fun o -> scalarOf o.Total)
    let acc = { absolute = 1e-12; relative = 1e-9 }
    closeArrays acc (values batch.Leaf.grad) wholeGrad "accumulated gradient"
    Expect.floatClose acc summed (scalarOf whole.Total) "summed micro-batch losses"
    let merged =
        outputs
        |> List.map (fun o -> o.Metrics)
        |> List.reduce (fun a b -> Map.fold (fun acc k v -> Map.add k (Map.find k acc + v) acc) a b)
    for KeyValue(name, m) in whole.Metrics do
        Expect.floatClose acc (metric merged[name]) (metric m) $"metric {name}"

let private namedObjectives =
    [ "clip-higher", Clipped(Ppo.clipHigher ClipRange.Default)
      "gppo", Clipped(Gppo.gppo ClipRange.Default)
      "gppo-general", Clipped(Gppo.gppoGeneral ClipRange.Default 0.25 1.0)
      "cispo", Cispo(Cispo.cispo ClipRange.Default)
      "gspo", Clipped(Gspo.gspo { EpsLow = 0.05; EpsHigh = 0.08 }) ]

let accumulation =
    testList "gradient accumulation over micro-batches = one mini-batch (policy + 0.1·SFT + 0.05·KL)" [
        for mode in modes do
            for name, objective in namedObjectives do
                test $"{Aggregation.name mode}, {name}" {
                    accumulationMatches 11 mode objective [ 1; 4 ]
                    accumulationMatches 12 mode objective [ 2; 3; 5; 6 ]
                }
        testPropertyWithConfig { FsCheckConfig.defaultConfig with maxTest = 40 } "random seeds and split points, every mode (gppo)" (fun (seed: int) (cut: byte) ->
            let c = 1 + int cut % 6
            for mode in modes do
                accumulationMatches seed mode (Clipped(Gppo.gppo ClipRange.Default)) [ c ])
    ]

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

let private allObjectives =
    [ Clipped(Ppo.ppo 0.2); Clipped(Ppo.clipHigher ClipRange.Default); Clipped(Gppo.gppo ClipRange.Default)
      Clipped(Gppo.gppoGeneral ClipRange.Default 0.25 1.0); Clipped(Gppo.gppoOnlyHigh ClipRange.Default)
      Cispo(Cispo.cispo ClipRange.Default); Cispo(Cispo.cispoCapped 2.0); Clipped(Gspo.gspo ClipRange.Default) ]

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

        testPropertyWithConfig config "A = 0 everywhere gives a zero gradient, for every objective" (fun (seed: int) ->
            use _scope = torch.NewDisposeScope()
            let batch = randomBatch seed 4 5
            for objective in allObjectives do
                let leaf = batch.Leaf.detach().requires_grad_ true
                let batch0 = PolicyBatch.create leaf batch.Old (torch.zeros_like batch.Adv) batch.Mask
                let out = Loss.evaluate (Loss.aggregate TokenMean objective) (Loss.inputsOf batch0)
                out.Total.backward ()
                Expect.isTrue (values leaf.grad |> Array.forall (fun g -> g = 0.0)) $"{objective}")

        testPropertyWithConfig config "a masked token has no influence: zero gradient, and changing it changes nothing" (fun (seed: int) ->
            use _scope = torch.NewDisposeScope()
            let batch = randomBatch seed 4 5
            let m = values batch.Mask
            let scramble (t: torch.Tensor) = torch.where (batch.Mask.gt (torch.tensor 0.0), t, t * torch.tensor 3.0 - torch.tensor 0.7)
            for objective in allObjectives do
                for mode in modes do
                    let evalWith (leaf: torch.Tensor) old adv =
                        let out = Loss.evaluate (Loss.aggregate mode objective) (Loss.inputsOf (PolicyBatch.create leaf old adv batch.Mask))
                        out.Total.backward ()
                        scalarOf out.Total
                    let leaf1 = batch.Leaf.detach().requires_grad_ true
                    let l1 = evalWith leaf1 batch.Old batch.Adv
                    let leaf2 = (scramble batch.Leaf).detach().requires_grad_ true
                    let l2 = evalWith leaf2 (scramble batch.Old) (scramble batch.Adv)
                    Expect.floatClose tight l2 l1 $"{objective} {mode}: loss unchanged"
                    values leaf1.grad |> Array.iteri (fun k g -> if m[k] = 0.0 then Expect.equal g 0.0 $"masked token {k} has no gradient"))
    ]

[<Tests>]
let tests = testList "aggregation" [ handValues; accumulation; finiteDifferenceOfAggregate; properties ]
