/// The rollout–trainer mismatch correction against a hand computation, with a sampler that really differs from the
/// trainer (top-p 0.9 vs the full distribution), and DAPO's overlong penalty by hand.
module Klear.Tests.RolloutCorrectionTests

open Expecto
open TorchSharp
open Klear.Algorithms
open Klear.Host.Rewards
open Klear.Host.Rollout
open Klear.Tests.TestTensors

/// Six next-token distributions (2 sequences × 3 tokens) over 5 tokens, chosen away from the top-p edge. Under top-p
/// 0.9 the sampler keeps the tokens ranked before the cumulative mass reaches 0.9, so a kept token's probability is
/// p / mass and ρ = π_full / π_sampler = mass, whichever token is drawn.
let private distributions =
    [| [| 0.45; 0.30; 0.12; 0.08; 0.05 |]    // keeps 4: mass 0.95
       [| 0.62; 0.20; 0.10; 0.05; 0.03 |]    // keeps 3: mass 0.92
       [| 0.30; 0.25; 0.20; 0.13; 0.12 |]    // keeps 5: mass 1
       [| 0.93; 0.03; 0.02; 0.01; 0.01 |]    // keeps 1: mass 0.93
       [| 0.45; 0.30; 0.12; 0.08; 0.05 |]    // 0.95
       [| 0.62; 0.20; 0.10; 0.05; 0.03 |] |] // 0.92

/// The nucleus mass by hand: sort, keep a token while the mass ranked above it is below top_p.
let private mass (p: float[]) (topP: float) =
    let sorted = Array.sortDescending p
    let before = Array.scan (+) 0.0 sorted
    Array.init sorted.Length (fun i -> if i = 0 || before[i] < topP then sorted[i] else 0.0) |> Array.sum

let tests =
    testList "rollout correction" [
        test "top-p 0.9 sampler vs full-distribution trainer: TIS, MIS weights and the mismatch metrics equal the hand computation" {
            use _scope = torch.NewDisposeScope()
            let logits = torch.tensor(distributions |> Array.concat |> Array.map (log >> float32)).reshape (6L, 5L)
            let options = SamplingOptions(Temperature = 1.0, TopP = 0.9, MaxNewTokens = 1)
            let uniforms = torch.tensor [| 0.3f; 0.8f; 0.99f; 0.5f; 0.97f; 0.1f |]
            let struct (tokens, samplerLogp) = Sampler.SampleNext(logits, options, uniforms)
            // The trainer scores the drawn token under the full distribution.
            let oldLogp = Terms.logProbsOf logits tokens
            let masses = distributions |> Array.map (fun p -> mass p 0.9)
            let drawn = tokens.data<int64>().ToArray()
            // The sampler's log-prob of each drawn token is log(p / mass): it drew from the renormalised nucleus.
            for k in 0..5 do
                Expect.floatClose { absolute = 1e-5; relative = 1e-5 } (float (samplerLogp.data<float32>().[k])) (log (distributions[k][int drawn[k]] / masses[k])) $"sampler log-prob {k}"
            let cap, lo, hi = 0.94, 0.85, 2.0
            let correction = { TisCap = Some cap; MisBounds = Some(lo, hi) }
            let shape (t: torch.Tensor) = t.reshape(2L, 3L).to_type torch.float64
            let weights, metrics = RolloutCorrection.weights correction (shape oldLogp) (shape samplerLogp) (torch.ones (2L, 3L, dtype = torch.float64))
            // Hand: ρ = mass per token; TIS min(ρ, C); MIS keeps a sequence iff Π ρ ∈ [lo, hi]:
            // sequence 0: 0.95·0.92·1 = 0.874 (kept), sequence 1: 0.93·0.95·0.92 = 0.8128 (dropped).
            let seqRho s = masses[3 * s] * masses[3 * s + 1] * masses[3 * s + 2]
            let expected = Array.init 6 (fun k -> let r = seqRho (k / 3) in (if r >= lo && r <= hi then min masses[k] cap else 0.0))
            let acc = { absolute = 1e-5; relative = 1e-5 }
            closeArrays acc (values weights.Value) expected "weights"
            let m = Metric.readAll metrics
            Expect.floatClose acc m["rollout_corr/kl"] (masses |> Array.averageBy (fun x -> -log x)) "k1: mean(sampler - old) = mean(-ln mass)"
            Expect.floatClose acc m["rollout_corr/k3_kl"] (masses |> Array.averageBy (fun x -> x - log x - 1.0)) "k3: mean(ρ - ln ρ - 1)"
            Expect.floatClose acc m["rollout_corr/tis_truncated_frac"] (float (masses |> Array.filter (fun x -> x > cap) |> Array.length) / 6.0) "tokens above C"
            Expect.floatClose acc m["rollout_corr/mis_masked_frac"] 0.5 "sequence 1's three tokens"
            Expect.floatClose acc m["rollout_corr/is_weight_mean"] (Array.average expected) "weight mean"
        }
        test "off: no weights (the objective is untouched), the metrics are still there" {
            use _scope = torch.NewDisposeScope()
            let x = tensor2 [| [| -1.0; -2.0 |] |]
            let w, metrics = RolloutCorrection.weights RolloutCorrection.None x (x - torch.tensor 0.1) (torch.ones_like x)
            Expect.isNone w "no weights"
            let read = Metric.readAll metrics
            Expect.floatClose tight read["rollout_corr/kl"] -0.1 "k1"
        }
        test "DAPO overlong penalty: 0 up to max - buffer, then linear to -factor at max; buffer 0 is off" {
            let p = OverlongPenalty(64, 16, 0.5)
            for length, expected in [ 10, 0.0; 48, 0.0; 52, -0.125; 56, -0.25; 64, -0.5 ] do
                Expect.floatClose tight (p.Of length) expected $"length {length}"
            Expect.equal (OverlongPenalty(64, 0, 1.0).Of 64) 0.0 "off"
            Expect.isSome (Option.ofNullable (OverlongPenalty(64, 65, 1.0).Problem())) "a buffer longer than the budget is an error"
        }
    ]

[<Tests>]
let rolloutCorrectionTests = tests
