/// The one property list every registered objective passes. It iterates the registry (Objective.all), so an objective
/// added there is tested here without anyone writing a line; one with no closed form in Reference.sequence fails.
module Klear.Tests.ObjectiveContractTests

open System
open Expecto
open TorchSharp
open Klear.Algorithms
open Klear.Tests.TestTensors

/// The settings grid: (eps_low, eps_high), dual clip c, (β1, β2), (τ_pos, τ_neg).
let private grid : Reference.Settings list =
    [ { EpsLow = 0.2; EpsHigh = 0.28; Dual = Some 10.0; Beta1 = 0.25; Beta2 = 1.0; TauPos = 1.0; TauNeg = 1.05 }
      { EpsLow = 0.1; EpsHigh = 0.1; Dual = Some 3.0; Beta1 = 0.5; Beta2 = 2.0; TauPos = 0.5; TauNeg = 2.0 }
      { EpsLow = 0.3; EpsHigh = 0.5; Dual = None; Beta1 = 1.0; Beta2 = 0.5; TauPos = 2.0; TauNeg = 1.0 } ]

let private spec = grid.Head

let private build (name: ObjectiveName) (s: Reference.Settings) =
    let settings =
        { EpsLow = s.EpsLow; EpsHigh = Some s.EpsHigh; DualClip = s.Dual; Beta1 = s.Beta1; Beta2 = s.Beta2
          TauPos = s.TauPos; TauNeg = s.TauNeg }
    match Objective.build name settings with
    | Ok o -> o
    | Error e -> failwith e

let private registered = Objective.all |> List.map (fun n -> Objective.name n, n)

let private modes = [ TokenMean; SeqMeanTokenMean; SeqMeanTokenSum; SeqMeanTokenSumNorm 7.0; TokenSum ]

/// A random mini-batch: B rows of length T, random response lengths (row 1 empty), one advantage per row (some 0),
/// ratios spread over every clip region.
type private Batch = RandomBatch

let private randomBatch = TestTensors.randomBatch 0.8

let private rows (batch: Batch) (leaf: torch.Tensor) (start: int64) (length: int64) =
    let r (x: torch.Tensor) = x.narrow (0L, start, length)
    { Policy = PolicyBatch.create (r leaf) (r batch.Old) (r batch.Adv) (r batch.Mask)
      Correct = Some(r batch.Correct)
      RefLogp = Some(r batch.Old)
      Entropy = None }

let private policyLoss mode objective = Loss.aggregate mode objective

/// Loss value and gradient per element of the leaf.
let private evalGrad (loss: Loss) (inputsOf: torch.Tensor -> LossInputs) (start: torch.Tensor) =
    let leaf = start.detach().requires_grad_ true
    let out = Loss.evaluate loss (inputsOf leaf)
    out.Total.backward ()
    scalarOf out.Total, values leaf.grad

let private closedFormAt (label: string) name objective (s: Reference.Settings) (tokens: (float * float) list) =
    match Reference.sequence name s tokens with
    | None -> failtest $"{name} has no closed form in Reference.sequence: add one (docs/objectives.md) before registering it"
    | Some(expectedLoss, expectedGrad) ->
        let t = Inspect.total objective SeqMeanTokenMean tokens (List.replicate tokens.Length 0)
        Expect.floatClose tight t.Loss expectedLoss $"{label}: loss of {tokens}"
        closeArrays tight (Array.ofList t.Grad) (Array.ofList expectedGrad) $"{label}: gradient of {tokens}"

/// Random tokens of one sequence: per-token advantages, or one advantage for a sequence-level objective.
let private randomSequence (rng: Random) (sequenceLevel: bool) =
    let n = rng.Next(1, 6)
    let adv () = match rng.Next 6 with 0 -> 0.0 | k when k % 2 = 0 -> 0.1 + 2.0 * rng.NextDouble() | _ -> -(0.1 + 2.0 * rng.NextDouble())
    let a = adv ()
    // log-ratios in (-2.5, 2.5): every clip region of every setting, and the dual clip for c = 3 and 5.
    [ for _ in 1..n -> exp (5.0 * rng.NextDouble() - 2.5), (if sequenceLevel then a else adv ()) ]

let private perObjective (label: string) (body: string -> ObjectiveName -> unit) =
    testList label [ for name, n in registered -> test name { body name n } ]

let closedForms =
    testList "every registered objective: value and gradient = the independent closed form" [
        perObjective "the spec's worked points (eps 0.2/0.28, c 10), one-token sequences" (fun name n ->
            let o = build n spec
            for a, r in [ 1.0, 1.5; -1.0, 0.5; 1.0, 0.5; -1.0, 1.5; -1.0, 12.0; 0.0, 1.5; 1.0, 1.1 ] do
                closedFormAt "worked point" name o spec [ r, a ])
        perObjective "random sequences, three settings" (fun name n ->
            for s in grid do
                let o = build n s
                let rng = Random 23
                for _ in 1..40 do closedFormAt $"settings {s}" name o s (randomSequence rng (Objective.isSequenceLevel o)))
    ]

let private config = { FsCheckConfig.defaultConfig with maxTest = 12 }

let private propertyPerObjective (label: string) (body: int -> PolicyObjective -> unit) =
    testList label [
        for name, n in registered do
            for s in grid do
                testPropertyWithConfig config $"{name} eps=({s.EpsLow}, {s.EpsHigh}) c={s.Dual}" (fun (seed: int) ->
                    use _scope = torch.NewDisposeScope()
                    body seed (build n s))
    ]

let zeroAdvantage =
    propertyPerObjective "A = 0 everywhere: zero gradient, every aggregation mode" (fun seed objective ->
        let batch = randomBatch seed 4 5
        for mode in modes do
            let _, grad = evalGrad (policyLoss mode objective) (fun leaf -> Loss.inputsOf (PolicyBatch.create leaf batch.Old (torch.zeros_like batch.Adv) batch.Mask)) batch.Leaf
            Expect.isTrue (grad |> Array.forall (fun g -> g = 0.0)) $"{Aggregation.name mode}: every gradient is 0")

let maskedTokens =
    propertyPerObjective "a masked token has no influence: changing it changes nothing, its gradient is 0" (fun seed objective ->
        let batch = randomBatch seed 4 5
        let m = values batch.Mask
        let scramble (t: torch.Tensor) = torch.where (batch.Mask.gt (torch.tensor 0.0), t, t * torch.tensor 3.0 - torch.tensor 0.7)
        for mode in modes do
            let loss = policyLoss mode objective
            let l1, g1 = evalGrad loss (fun leaf -> Loss.inputsOf (PolicyBatch.create leaf batch.Old batch.Adv batch.Mask)) batch.Leaf
            let l2, _ = evalGrad loss (fun leaf -> Loss.inputsOf (PolicyBatch.create leaf (scramble batch.Old) (scramble batch.Adv) batch.Mask)) (scramble batch.Leaf)
            Expect.floatClose tight l2 l1 $"{Aggregation.name mode}: loss unchanged"
            g1 |> Array.iteri (fun k g -> if m[k] = 0.0 then Expect.equal g 0.0 $"{Aggregation.name mode}: masked token {k} has no gradient"))

/// Accumulates over the micro-batches cut at `cuts` and compares loss, gradient and metrics with one batch.
let accumulationMatches (seed: int) (mode: Aggregation) (objective: PolicyObjective) (cuts: int list) (keep: torch.Tensor option) =
    use _scope = torch.NewDisposeScope()
    let b, t = 7, 6
    let batch = randomBatch seed b t
    let loss = policyLoss mode (Objective.dualClip 10.0 objective) |> Loss.plus (0.1 * Loss.sftOnCorrectWith mode) |> Loss.plus (0.05 * Loss.klPenalty K3Plus)
    let inputs start length =
        let i = rows batch batch.Leaf start length
        match keep with Some k -> Loss.keepRows (k.narrow (0L, start, length)) i | None -> i
    let whole = Loss.evaluate loss (inputs 0L (int64 b))
    whole.Total.backward ()
    let wholeGrad = values batch.Leaf.grad
    batch.Leaf.grad.zero_ () |> ignore
    let bounds = (0 :: cuts) @ [ b ] |> List.pairwise
    let micro = bounds |> List.map (fun (s, e) -> inputs (int64 s) (int64 (e - s)))
    let norms = Loss.normalisers loss micro
    let outputs = micro |> List.map (Loss.evaluateMicro loss norms)
    outputs |> List.iter (fun o -> o.Total.backward ())
    let acc = { absolute = 1e-12; relative = 1e-9 }
    closeArrays acc (values batch.Leaf.grad) wholeGrad "accumulated gradient"
    Expect.floatClose acc (outputs |> List.sumBy (fun o -> scalarOf o.Total)) (scalarOf whole.Total) "summed micro-batch losses"
    let merged =
        outputs |> List.map (fun o -> o.Metrics) |> List.reduce (fun a b -> Map.fold (fun acc k v -> Map.add k (Map.find k acc + v) acc) a b)
    for KeyValue(name, m) in whole.Metrics do
        Expect.floatClose acc (metric merged[name]) (metric m) $"metric {name}"
    wholeGrad, scalarOf whole.Total

/// The same composed loss and gradient on only the rows `kept` of the same random batch.
let lossWithoutRows (seed: int) (mode: Aggregation) (objective: PolicyObjective) (kept: int64[]) =
    use _scope = torch.NewDisposeScope()
    let batch = randomBatch seed 7 6
    let pick (x: torch.Tensor) = x.index_select (0L, torch.tensor kept)
    let sub = { Leaf = (pick batch.Leaf).detach().requires_grad_ true; Old = pick batch.Old; Adv = pick batch.Adv; Mask = pick batch.Mask; Correct = pick batch.Correct }
    let loss = policyLoss mode (Objective.dualClip 10.0 objective) |> Loss.plus (0.1 * Loss.sftOnCorrectWith mode) |> Loss.plus (0.05 * Loss.klPenalty K3Plus)
    let out = Loss.evaluate loss (rows sub sub.Leaf 0L (int64 kept.Length))
    out.Total.backward ()
    values sub.Leaf.grad, scalarOf out.Total

let accumulation =
    propertyPerObjective "gradient accumulation over random micro-batch splits = one batch, every mode (+ 0.1·SFT + 0.05·KL k3+)" (fun seed objective ->
        let rng = Random seed
        let cuts = [ 1..6 ] |> List.filter (fun _ -> rng.Next 2 = 0)
        for mode in modes do accumulationMatches seed mode objective cuts None |> ignore)

/// Central differences of the aggregated loss in each element of the leaf.
let private numericGradient (loss: Loss) (inputsOf: torch.Tensor -> LossInputs) (start: torch.Tensor) =
    let x = values start
    let shape = start.shape
    Array.init x.Length (fun k ->
        let at delta =
            let shifted = Array.copy x
            shifted[k] <- shifted[k] + delta
            scalarOf (Loss.evaluate loss (inputsOf (torch.tensor(shifted, dtype = torch.float64).reshape shape))).Total
        (at 1e-6 - at -1e-6) / 2e-6)

let finiteDifferences =
    propertyPerObjective "no stop-gradient (Objective.gradientIsDerivative): autograd = central differences, every mode; otherwise they differ somewhere" (fun seed objective ->
        let fd = { absolute = 1e-6; relative = 1e-5 }
        if Objective.gradientIsDerivative objective then
            let batch = randomBatch seed 3 4
            let inputsOf leaf = Loss.inputsOf (PolicyBatch.create leaf batch.Old batch.Adv batch.Mask)
            for mode in modes do
                let loss = policyLoss mode objective
                let _, grad = evalGrad loss inputsOf batch.Leaf
                closeArrays fd grad (numericGradient loss inputsOf batch.Leaf) $"{Aggregation.name mode}: d(loss)/d(logp)"
        else
            // The spec's worked points, one token each: a preserved bound or a detached weight shows somewhere.
            let pairs = [ 1.5, 1.0; 0.5, -1.0; 1.1, 1.0; 1.1, -1.0 ]
            let loss = policyLoss SeqMeanTokenMean objective
            let logp = torch.tensor(pairs |> List.map (fst >> log) |> Array.ofList, dtype = torch.float64).reshape (4L, 1L)
            let adv = torch.tensor(pairs |> List.map snd |> Array.ofList, dtype = torch.float64).reshape (4L, 1L)
            let inputsOf leaf = Loss.inputsOf (PolicyBatch.create leaf (torch.zeros_like logp) adv (torch.ones_like logp))
            let _, grad = evalGrad loss inputsOf logp
            let numeric = numericGradient loss inputsOf logp
            Expect.isTrue (Array.exists2 (fun (g: float) n -> abs (g - n) > 1e-3) grad numeric)
                "the objective says its gradient is not the forward's derivative, so some worked point must show it")

let gradientPath =
    propertyPerObjective "the gradient reaches the log-probs and nothing flows into old log-probs, advantages, mask or IS weights" (fun seed objective ->
        let batch = randomBatch seed 4 5
        // Ratios within 1% of 1: inside every trust region, so every objective has a gradient to give.
        let old = (batch.Leaf.detach() + (batch.Old - batch.Leaf.detach()) * torch.tensor 0.01).detach().requires_grad_ true
        let adv = (batch.Adv + torch.tensor 0.5).detach().requires_grad_ true   // no row with A = 0
        let mask = batch.Mask.detach().requires_grad_ true
        let w = (torch.rand_like batch.Old + torch.tensor 0.5).detach().requires_grad_ true
        let leaf = batch.Leaf.detach().requires_grad_ true
        for mode in modes do
            let p = PolicyBatch.create leaf old adv mask |> PolicyBatch.withIsWeights (Some w)
            (Loss.evaluate (policyLoss mode objective) (Loss.inputsOf p)).Total.backward ()
        Expect.isTrue (values leaf.grad |> Array.exists (fun g -> g <> 0.0)) "some log-prob has a gradient"
        for name, t in [ "old log-probs", old; "advantages", adv; "mask", mask; "IS weights", w ] do
            Expect.isTrue (isNull t.grad) $"no gradient reaches the {name}")

let isWeights =
    propertyPerObjective "IS weights are a detached per-token factor: uniform c scales loss and gradient by c; a zero-weight row is silent" (fun seed objective ->
        let batch = randomBatch seed 4 5
        let c = 0.37
        for mode in modes do
            let loss = policyLoss mode objective
            let plain = PolicyBatch.create batch.Leaf batch.Old batch.Adv batch.Mask
            let l0, g0 = evalGrad loss (fun leaf -> Loss.inputsOf { plain with Logp = leaf }) batch.Leaf
            let l1, g1 = evalGrad loss (fun leaf -> Loss.inputsOf ({ plain with Logp = leaf } |> PolicyBatch.withIsWeights (Some(torch.full_like (batch.Old, Tensors.scalar c))))) batch.Leaf
            Expect.floatClose tight l1 (c * l0) $"{Aggregation.name mode}: loss × c"
            closeArrays tight g1 (g0 |> Array.map ((*) c)) $"{Aggregation.name mode}: gradient × c"
            let rowZero = torch.ones_like(batch.Old).index_fill_ (0L, torch.tensor [| 2L |], Tensors.scalar 0.0)
            let _, g2 = evalGrad loss (fun leaf -> Loss.inputsOf ({ plain with Logp = leaf } |> PolicyBatch.withIsWeights (Some rowZero))) batch.Leaf
            for k in 10..14 do Expect.equal g2[k] 0.0 $"{Aggregation.name mode}: token {k} of the zero-weight row")

let registry =
    testList "the registry" [
        test "every name round-trips, builds with its defaults and has a closed form" {
            Expect.equal (registered |> List.map fst |> List.distinct).Length registered.Length "names are unique"
            for name, n in registered do
                Expect.equal (Objective.parse name) (Ok n) $"{name} parses"
                let o = Objective.fromSettings (name, Nullable(), Nullable(), Nullable(), Nullable(), Nullable(), Nullable(), Nullable())
                Expect.isSome (Reference.sequence name spec [ 1.2, 1.0 ]) $"{name}: Reference.sequence knows it"
                Expect.isNotNull (box o) name
        }
    ]

[<Tests>]
let tests =
    testList "every registered objective" [ registry; closedForms; zeroAdvantage; maskedTokens; accumulation; finiteDifferences; gradientPath; isWeights ]
