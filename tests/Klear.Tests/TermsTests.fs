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

[<Tests>]
let tests = testList "terms and estimators" [ advantageTests; termTests; metricTests; validationTests ]
