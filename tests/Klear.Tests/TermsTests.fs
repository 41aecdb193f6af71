/// Advantage estimators, the auxiliary terms, metrics and input validation against hand computations.
module Klear.Tests.TermsTests

open System
open Expecto
open TorchSharp
open Klear.Algorithms
open Klear.Tests.TestTensors

let private rewards = [| [| 1.0; 0.0; 0.0; 1.0 |]; [| 1.0; 1.0; 1.0; 1.0 |]; [| 0.5; -1.0; 2.0; 0.0 |] |]

let private advantages estimator =
    use _scope = torch.NewDisposeScope()
    values (Advantages.compute estimator (tensor2 rewards))

let advantageTests =
    testList "advantages" [
        test "GRPO: (R - mean) / (unbiased std + 1e-6) per group" {
            let s0 = sqrt (1.0 / 3.0) // group 0: mean 0.5, Σ dev² = 1, unbiased var 1/3
            let s2 = 1.25 // group 2: mean 0.375, Σ dev² = 4.6875, unbiased var 1.5625
            let expected =
                [| 0.5 / (s0 + 1e-6); -0.5 / (s0 + 1e-6); -0.5 / (s0 + 1e-6); 0.5 / (s0 + 1e-6)
                   0.0; 0.0; 0.0; 0.0
                   0.125 / (s2 + 1e-6); -1.375 / (s2 + 1e-6); 1.625 / (s2 + 1e-6); -0.375 / (s2 + 1e-6) |]
            closeArrays tight (advantages Grpo) expected "GRPO"
        }
        test "Dr.GRPO: R - group mean" {
            closeArrays tight (advantages DrGrpo) [| 0.5; -0.5; -0.5; 0.5; 0.0; 0.0; 0.0; 0.0; 0.125; -1.375; 1.625; -0.375 |] "Dr.GRPO"
        }
        test "RLOO: R - mean of the other rollouts" {
            let g2 = rewards[2]
            let loo i = g2[i] - (Array.sum g2 - g2[i]) / 3.0
            closeArrays tight (advantages Rloo) [| 2.0 / 3.0; -2.0 / 3.0; -2.0 / 3.0; 2.0 / 3.0; 0.0; 0.0; 0.0; 0.0; loo 0; loo 1; loo 2; loo 3 |] "RLOO"
        }
        test "REINFORCE++: whitened over the whole batch" {
            let all = Array.concat rewards
            let mean = Array.average all
            let var = (all |> Array.sumBy (fun x -> (x - mean) ** 2.0)) / float (all.Length - 1)
            closeArrays tight (advantages ReinforcePlusPlus) (all |> Array.map (fun x -> (x - mean) / sqrt (var + 1e-8))) "REINFORCE++"
        }
        test "zero-advantage groups are the groups with no reward spread" {
            use _scope = torch.NewDisposeScope()
            let flags = (Advantages.zeroAdvantageGroups (tensor2 rewards)).data<bool>().ToArray()
            Expect.sequenceEqual flags [| false; true; false |] "only the all-equal group"
        }
        test "a group of one rollout is an error for group estimators" {
            use _scope = torch.NewDisposeScope()
            Expect.throwsT<ArgumentException> (fun () -> Advantages.compute Grpo (tensor2 [| [| 1.0 |] |]) |> ignore) "n = 1"
        }
        test "advantages spread over response tokens only" {
            use _scope = torch.NewDisposeScope()
            let tokens = Advantages.toTokens (tensor1 [| 2.0; -1.0 |]) (tensor2 [| [| 1.0; 1.0; 0.0 |]; [| 1.0; 0.0; 0.0 |] |])
            closeArrays tight (values tokens) [| 2.0; 2.0; 0.0; -1.0; 0.0; 0.0 |] "broadcast"
        }
        test "parse knows every estimator and lists them on error" {
            for e in Advantages.all do Expect.equal (Advantages.parse (Advantages.name e)) (Ok e) "round trip"
            match Advantages.parse "ppo" with
            | Error msg -> Expect.stringContains msg "grpo, drgrpo, rloo, reinforce++" "lists valid names"
            | Ok _ -> failtest "accepted an unknown estimator"
        }
    ]

let termTests =
    testList "terms" [
        test "KL estimators k1, k2, k3 at hand-picked log-ratios" {
            use _scope = torch.NewDisposeScope()
            let d = [| -0.5; 0.0; 0.3 |]
            let logp = tensor2 [| d |]
            let reference = torch.zeros (1L, 3L, dtype = torch.float64)
            closeArrays tight (values (Terms.kl K1 logp reference)) d "k1"
            closeArrays tight (values (Terms.kl K2 logp reference)) (d |> Array.map (fun x -> 0.5 * x * x)) "k2"
            closeArrays tight (values (Terms.kl K3 logp reference)) (d |> Array.map (fun x -> exp -x + x - 1.0)) "k3"
        }
        test "k3+ has k3's value and k2's gradient d = logp - ref (straight-through)" {
            use _scope = torch.NewDisposeScope()
            let d = [| -0.5; 0.0; 0.3; 1.7 |]
            let leaf = (tensor2 [| d |]).requires_grad_ true
            let reference = torch.zeros (1L, 4L, dtype = torch.float64)
            let k = Terms.kl K3Plus leaf reference
            k.sum().backward ()
            closeArrays tight (values k) (d |> Array.map (fun x -> exp -x + x - 1.0)) "value = k3"
            closeArrays tight (values leaf.grad) d "gradient = d(½d²)/dd = d"
        }
        test "entropy from logits: uniform is ln V; [1/4, 3/4] by hand" {
            use _scope = torch.NewDisposeScope()
            let logits = torch.tensor([| 0.0; 0.0; 0.0; 0.0; 0.0; log 3.0; 0.0; 0.0 |], dtype = torch.float64).reshape (1L, 2L, 4L)
            let h = values (Terms.entropyFromLogits (logits.narrow (2L, 0L, 2L)))
            Expect.floatClose tight h[0] (log 2.0) "uniform over 2"
            Expect.floatClose tight h[1] (-(0.25 * log 0.25 + 0.75 * log 0.75)) "[1/4, 3/4]"
        }
        test "log-probs of chosen tokens" {
            use _scope = torch.NewDisposeScope()
            let logits = torch.tensor([| 0.0; log 3.0; 1.0; 1.0 |], dtype = torch.float64).reshape (1L, 2L, 2L)
            let lp = values (Terms.logProbsOf logits (torch.tensor([| 1L; 0L |]).reshape (1L, 2L)))
            closeArrays tight lp [| log 0.75; log 0.5 |] "chosen"
        }
        test "SFT on correct rollouts: d/dlogp = -1/(correct tokens) on their tokens, 0 elsewhere" {
            use _scope = torch.NewDisposeScope()
            let leaf = (tensor2 [| [| -1.0; -2.0; -3.0 |]; [| -1.0; -1.0; -1.0 |]; [| -0.5; -0.5; -0.5 |] |]).requires_grad_ true
            let mask = tensor2 [| [| 1.0; 1.0; 0.0 |]; [| 1.0; 1.0; 1.0 |]; [| 1.0; 0.0; 0.0 |] |]
            let batch = PolicyBatch.create leaf (leaf.detach ()) (torch.zeros_like mask) mask
            let inputs = { Loss.inputsOf batch with Correct = Some(tensor1 [| 1.0; 0.0; 1.0 |]) }
            let out = Loss.evaluate Loss.sftOnCorrect inputs
            out.Total.backward ()
            Expect.floatClose tight (scalarOf out.Total) ((1.0 + 2.0 + 0.5) / 3.0) "mean NLL over the 3 correct tokens"
            closeArrays tight (values leaf.grad) [| -1.0 / 3.0; -1.0 / 3.0; 0.0; 0.0; 0.0; 0.0; -1.0 / 3.0; 0.0; 0.0 |] "gradient"
        }
        test "a term without its input names the missing field" {
            use _scope = torch.NewDisposeScope()
            let _, batch = tokensBatch [ 1.0, 1.0 ]
            let ex = Expect.throwsC (fun () -> Loss.evaluate Loss.sftOnCorrect (Loss.inputsOf batch) |> ignore) id
            Expect.stringContains ex.Message "Correct" "names the field"
        }
        test "entropy bonus: loss -H, metric actor/entropy = mean H" {
            use _scope = torch.NewDisposeScope()
            let _, batch = tokensBatch [ 1.0, 1.0; 1.0, 1.0 ]
            let out = Loss.evaluate (0.01 * Loss.entropyBonus) { Loss.inputsOf batch with Entropy = Some(tensor2 [| [| 0.5; 1.5 |] |]) }
            Expect.floatClose tight (scalarOf out.Total) (-0.01) "0.01 · -(0.5 + 1.5)/2"
            Expect.floatClose tight (metric out.Metrics["actor/entropy"]) 1.0 "mean entropy"
        }
    ]

let metricTests =
    test "metrics of GPPO with dual clip on four hand-placed tokens" {
        use _scope = torch.NewDisposeScope()
        // high-clipped, low-clipped, dual-clipped, inside
        let _, batch = tokensBatch [ 1.5, 1.0; 0.5, -1.0; 12.0, -1.0; 1.0, 1.0 ]
        let loss = Loss.aggregate TokenMean (Objective.dualClip 10.0 (Clipped(Gppo.gppo ClipRange.Default)))
        let out = Loss.evaluate loss (Loss.inputsOf batch)
        let m name = metric out.Metrics[name]
        Expect.floatClose tight (m "actor/pg_clipfrac") 0.5 "two of four take the clipped branch"
        Expect.floatClose tight (m "actor/pg_clipfrac_lower") 0.25 "one dual-clipped"
        Expect.floatClose tight (m "actor/ppo_kl") (-(log 1.5 + log 0.5 + log 12.0) / 4.0) "mean(old - logp)"
        Expect.floatClose tight (m "actor/gppo_preserved_frac") 0.5 "two tokens keep a gradient through the clip"
        Expect.floatClose tight (m "actor/gppo_preserved_grad_share") ((1.28 + 0.8) / (1.28 + 0.8 + 1.0)) "share of |dl/dlogp|"
        Expect.floatClose tight (m "actor/pg_loss") (scalarOf out.Total) "pg_loss is the aggregated loss"
        Expect.floatClose tight (scalarOf out.Total) ((-1.28 + 0.8 + 10.0 - 1.0) / 4.0) "token-mean value"
    }

let validationTests =
    testList "validation" [
        test "mismatched shapes name both arguments" {
            use _scope = torch.NewDisposeScope()
            let ex = Expect.throwsC (fun () -> PolicyBatch.create (torch.zeros (2L, 3L)) (torch.zeros (2L, 4L)) (torch.zeros (2L, 3L)) (torch.ones (2L, 3L)) |> ignore) id
            Expect.stringContains ex.Message "oldLogp has shape [2, 4] but logp has shape [2, 3]" "both shapes"
        }
        test "unknown objective lists the valid ones" {
            match Objective.parse "grpo" with
            | Error msg -> Expect.stringContains msg "ppo, clip-higher, gppo, gppo-general, gppo-only-high, cispo, gspo" "valid names"
            | Ok _ -> failtest "accepted"
        }
        test "every name round-trips" {
            for n in Objective.all do Expect.equal (Objective.parse (Objective.name n)) (Ok n) "round trip"
        }
        test "bad settings are errors naming the setting" {
            let d = ObjectiveSettings.Default
            let err s = match Objective.build GppoGeneralName s with Error e -> e | Ok _ -> failtest $"accepted {s}"
            Expect.stringContains (err { d with EpsLow = -0.1 }) "eps_low" "negative eps_low"
            Expect.stringContains (err { d with EpsHigh = Some -1.0 }) "eps_high" "negative eps_high"
            Expect.stringContains (err { d with DualClip = Some 1.0 }) "dual clip" "c <= 1"
            Expect.stringContains (err { d with Beta1 = -0.5 }) "beta1" "negative beta1"
        }
        test "ppo is symmetric by default and takes eps_high when given" {
            let range o = match o with Ok(Clipped spec) -> spec.Range | _ -> failtest "not a clip objective"
            Expect.equal (range (Objective.build PpoName { ObjectiveSettings.Default with EpsLow = 0.1 })) { EpsLow = 0.1; EpsHigh = 0.1 } "symmetric"
            Expect.equal (range (Objective.build GppoName ObjectiveSettings.Default)) ClipRange.Default "0.2 / 0.28"
        }
    ]

/// Random float64 logits [2, 3, 5] and chosen tokens [2, 3], with the expected log-probs and entropies computed
/// element by element from the numbers (log-softmax by hand), independently of any tensor op.
let private scoringCase () =
    let rng = Random 5
    let raw = Array.init 30 (fun _ -> rng.NextDouble() * 6.0 - 3.0)
    let chosen = Array.init 6 (fun _ -> int64 (rng.Next 5))
    let row k = raw[k * 5 .. k * 5 + 4]
    let logSoftmax (xs: float[]) = let m = Array.max xs in let z = m + log (xs |> Array.sumBy (fun x -> exp (x - m))) in xs |> Array.map (fun x -> x - z)
    let lp = Array.init 6 (fun k -> (logSoftmax (row k))[int chosen[k]])
    let h = Array.init 6 (fun k -> logSoftmax (row k) |> Array.sumBy (fun l -> -(exp l) * l))
    torch.tensor(raw, dtype = torch.float64).reshape (2L, 3L, 5L), torch.tensor(chosen).reshape (2L, 3L), lp, h

let scoringTests =
    testList "log-probs and entropies" [
        test "logProbsOf, entropyFromLogits and logProbsAndEntropy equal log-softmax by hand" {
            use _scope = torch.NewDisposeScope()
            let logits, tokens, lp, h = scoringCase ()
            closeArrays tight (values (Terms.logProbsOf logits tokens)) lp "logProbsOf"
            closeArrays tight (values (Terms.entropyFromLogits logits)) h "entropyFromLogits"
            for entropyUse in [ Bonus; Diagnostic ] do
                let struct (lp2, h2) = Terms.logProbsAndEntropy entropyUse logits tokens
                closeArrays tight (values lp2) lp $"{entropyUse}: log-probs"
                closeArrays tight (values h2) h $"{entropyUse}: entropies"
        }
        test "a Bonus entropy carries the gradient of the entropy; a Diagnostic one carries none" {
            use _scope = torch.NewDisposeScope()
            let raw, tokens, _, _ = scoringCase ()
            let leaf () = raw.detach().requires_grad_ true
            let bonusLeaf = leaf ()
            let struct (_, hBonus) = Terms.logProbsAndEntropy Bonus bonusLeaf tokens
            hBonus.sum().backward ()
            let reference = leaf ()
            (Terms.entropyFromLogits reference).sum().backward ()
            closeArrays tight (values bonusLeaf.grad) (values reference.grad) "d(sum H)/d(logits)"
            let struct (lp, hDiag) = Terms.logProbsAndEntropy Diagnostic (leaf ()) tokens
            Expect.isFalse hDiag.requires_grad "diagnostic entropy is detached"
            Expect.isTrue lp.requires_grad "the log-probs keep their gradient"
        }
        test "tokens that are not the logits' shape without the last axis name both shapes" {
            use _scope = torch.NewDisposeScope()
            let logits, _, _, _ = scoringCase ()
            let ex = Expect.throwsC (fun () -> Terms.logProbsOf logits (torch.zeros (2L, 4L, dtype = torch.int64)) |> ignore) id
            Expect.stringContains ex.Message "tokens has shape [2, 4] but logits has shape [2, 3, 5]" "both shapes"
            Expect.throwsT<ArgumentException> (fun () -> Terms.logProbsAndEntropy Bonus logits (torch.zeros (6L, dtype = torch.int64)) |> ignore) "flattened tokens"
        }
        test "SFT loss: token-mean NLL over the mask, d/dlogp = -1/(tokens) on selected tokens, 0 elsewhere" {
            use _scope = torch.NewDisposeScope()
            let leaf = (tensor2 [| [| -1.0; -2.0; -3.0 |]; [| -0.5; -4.0; -1.5 |] |]).requires_grad_ true
            let mask = tensor2 [| [| 1.0; 1.0; 0.0 |]; [| 1.0; 0.0; 0.0 |] |]
            let loss = Terms.nllTokenMean mask leaf
            loss.backward ()
            Expect.floatClose tight (scalarOf loss) ((1.0 + 2.0 + 0.5) / 3.0) "mean NLL over the 3 selected tokens"
            closeArrays tight (values leaf.grad) [| -1.0 / 3.0; -1.0 / 3.0; 0.0; -1.0 / 3.0; 0.0; 0.0 |] "gradient"
        }
    ]

let readTests =
    testList "metric reading" [
        test "readAll gives each metric's Sum / Count, and 0 for one that counted nothing" {
            use _scope = torch.NewDisposeScope()
            let m (s: float) (c: float) = { Sum = torch.tensor (s, dtype = torch.float32); Count = torch.tensor (c, dtype = torch.float32) }
            let read = Metric.readAll [ "a", m 3.0 4.0; "b", m 5.0 0.0; "c", { Sum = torch.tensor 1.0f; Count = torch.tensor 3.0f } ]
            Expect.equal read["a"] 0.75 "3 / 4"
            Expect.equal read["b"] 0.0 "nothing counted"
            Expect.equal read["c"] (float (1.0f / 3.0f)) "float32 divides in float32, then widens"
            Expect.isEmpty (Metric.readAll []) "no metrics, no read"
        }
        test "float64 sums of float32 metrics add up as a double accumulator does" {
            use _scope = torch.NewDisposeScope()
            let rng = Random 9
            let parts = List.init 7 (fun _ -> float32 (rng.NextDouble() * 1e3), float32 (rng.Next(1, 50)))
            let metricOf (s: float32, c: float32) = Metric.toFloat64 { Sum = torch.tensor s; Count = torch.tensor c }
            let total = parts |> List.map metricOf |> List.reduce (+)
            let sum = parts |> List.sumBy (fun (s, _) -> float s)
            let count = parts |> List.sumBy (fun (_, c) -> float c)
            let read = Metric.readAll [ "m", total ]
            Expect.equal read["m"] (sum / count) "bit for bit"
        }
    ]

/// The members C# calls are the F# functions under other names: same values, same gradients.
let csharpSurfaceTests =
    testList "C# surface" [
        test "PolicyBatch.Create, LossInputs.Of/With…, Loss members and Evaluate equal the module functions" {
            use _scope = torch.NewDisposeScope()
            let logp, batch = tokensBatch [ 1.5, 1.0; 0.5, -1.0; 1.1, 0.5 ]
            let correct = tensor1 [| 1.0 |]
            let reference = torch.zeros (1L, 3L, dtype = torch.float64)
            let entropy = tensor2 [| [| 0.5; 1.0; 2.0 |] |]
            let objective = Clipped(Gppo.gppo ClipRange.Default)
            let fsLoss =
                Loss.aggregate TokenMean objective |> Loss.plus (0.1 * Loss.sftOnCorrect) |> Loss.plus (0.05 * Loss.klPenalty K3)
                |> Loss.plus (0.01 * Loss.entropyBonus)
            let csLoss =
                Loss.Aggregate(TokenMean, objective) + 0.1 * Loss.SftOnCorrect + 0.05 * Loss.KlPenalty K3 + 0.01 * Loss.EntropyBonus
            let fsInputs = { Policy = batch; Correct = Some correct; RefLogp = Some reference; Entropy = Some entropy }
            let csBatch = PolicyBatch.Create(logp, batch.OldLogp, batch.Advantages, batch.Mask)
            let csInputs = LossInputs.Of(csBatch).WithCorrect(correct).WithRefLogp(reference).WithEntropy(entropy)
            let a = Loss.evaluate fsLoss fsInputs
            let b = csLoss.Evaluate csInputs
            let c = csLoss.EvaluateMicro(csLoss.Normalisers [ csInputs ], csInputs)
            Expect.equal (scalarOf b.Total) (scalarOf a.Total) "Evaluate"
            Expect.equal (scalarOf c.Total) (scalarOf a.Total) "EvaluateMicro"
            Expect.equal (b.Metrics.Keys |> List.ofSeq) (a.Metrics.Keys |> List.ofSeq) "same metrics"
            for KeyValue(k, m) in a.Metrics do Expect.equal (metric b.Metrics[k]) (metric m) k
            let unset = LossInputs.Of(csBatch).WithCorrect(null)
            Expect.isNone unset.Correct "null leaves an input unset"
        }
        test "Metric.ReadAll, Value and TokenMean; OrThrow; InspectTokens" {
            use _scope = torch.NewDisposeScope()
            let m = Metric.TokenMean(tensor2 [| [| 1.0; 0.0 |] |], tensor2 [| [| 3.0; 7.0 |] |])
            Expect.equal (scalarOf m.Value) 3.0 "masked mean"
            let read = Metric.ReadAll [ Collections.Generic.KeyValuePair("m", m) ]
            Expect.equal read["m"] 3.0 "ReadAll"
            Expect.equal ((Advantages.parse "rloo").OrThrow(fun e -> exn e)) Rloo "Ok gives the value"
            let ex = Expect.throwsC (fun () -> (Advantages.parse "ppo").OrThrow(fun e -> InvalidOperationException("key: " + e)) |> ignore) id
            Expect.stringContains ex.Message "key: unknown advantage estimator 'ppo'" "Error goes through the caller's exception"
            let objective = Objective.dualClip 10.0 (Clipped(Gppo.gppo ClipRange.Default))
            let pairs = [ 1.5, 1.0; 0.5, -1.0; 12.0, -1.0 ]
            Expect.equal (List.ofSeq (objective.InspectTokens [ for r, a in pairs -> struct (r, a) ])) (Inspect.tokens objective pairs) "InspectTokens"
        }
    ]

/// README's example, verbatim (the test below checks that the README still says this), on a small float32 batch.
let private readmeExample =
    """let loss =
    Clipped(Gppo.gppo { EpsLow = 0.2; EpsHigh = 0.28 })   // Klear-Reasoner Eq. 11
    |> Objective.dualClip 10.0                            // for A < 0, cap the loss at -A·c
    |> Loss.aggregate TokenMean                           // Σ mask·l / tokens of the mini-batch
    |> Loss.plus (0.1 * Loss.sftOnCorrect)                // Eq. 13–14: NLL on correct rollouts

let out = Loss.evaluate loss { Policy = PolicyBatch.create logp oldLogp adv mask
                               Correct = Some correct; RefLogp = None; Entropy = None }
out.Total.backward ()
out.Metrics |> Map.iter (fun name m -> printfn "%s %f" name ((Metric.value m).item<float32> ()))"""

let readmeTests =
    testList "README" [
        test "the README's F# example is the one compiled below" {
            let readme = IO.File.ReadAllText(Repo.file [ "README.md" ]).Replace("\r\n", "\n")
            Expect.stringContains readme readmeExample "README's fsharp block (update both together)"
        }
        test "the README's F# example compiles and runs as written" {
            use _scope = torch.NewDisposeScope()
            let logp = torch.tensor([| -0.5f; -1.0f; -2.0f; -0.1f |]).reshape(2L, 2L).requires_grad_ true
            let oldLogp = torch.tensor([| -0.6f; -1.0f; -1.5f; -0.1f |]).reshape (2L, 2L)
            let adv = torch.tensor([| 1.0f; 1.0f; -1.0f; -1.0f |]).reshape (2L, 2L)
            let mask = torch.ones (2L, 2L)
            let correct = torch.tensor [| 1.0f; 0.0f |]
            let printed = new IO.StringWriter()
            let console = Console.Out
            Console.SetOut printed
            try
                // ---- README ----
                let loss =
                    Clipped(Gppo.gppo { EpsLow = 0.2; EpsHigh = 0.28 })   // Klear-Reasoner Eq. 11
                    |> Objective.dualClip 10.0                            // for A < 0, cap the loss at -A·c
                    |> Loss.aggregate TokenMean                           // Σ mask·l / tokens of the mini-batch
                    |> Loss.plus (0.1 * Loss.sftOnCorrect)                // Eq. 13–14: NLL on correct rollouts

                let out = Loss.evaluate loss { Policy = PolicyBatch.create logp oldLogp adv mask
                                               Correct = Some correct; RefLogp = None; Entropy = None }
                out.Total.backward ()
                out.Metrics |> Map.iter (fun name m -> printfn "%s %f" name ((Metric.value m).item<float32> ()))
                // ---- end ----
            finally
                Console.SetOut console
            Expect.stringContains (printed.ToString()) "actor/pg_loss" "metrics printed"
            Expect.stringContains (printed.ToString()) "actor/sft_loss" "with the SFT term"
            Expect.isNotNull logp.grad "a gradient flowed"
        }
    ]

[<Tests>]
let tests =
    testList "terms and estimators" [ advantageTests; termTests; scoringTests; metricTests; readTests; csharpSurfaceTests; validationTests; readmeTests ]
