/// Each objective against the spec (docs/objectives.md): worked values, the per-region closed form, finite differences.
module Klear.Tests.ObjectiveTests

open System
open Expecto
open TorchSharp
open Klear.Algorithms
open Klear.Tests.TestTensors

let private build name (epsLow, epsHigh) dual (beta1, beta2) =
    let settings = { ObjectiveSettings.Default with EpsLow = epsLow; EpsHigh = Some epsHigh; DualClip = dual; Beta1 = beta1; Beta2 = beta2 }
    match Objective.parse name |> Result.bind (fun n -> Objective.build n settings) with
    | Ok o -> o
    | Error e -> failwith e

let private run objective pairs =
    use _scope = torch.NewDisposeScope()
    Inspect.tokens objective pairs

/// Worked values of docs/objectives.md (eps 0.2 / 0.28, c = 10): (A, r) -> (loss, dl/dlogp) per objective.
let private worked =
    [ // A, r, clip-higher, GPPO, general β1=0.25 β2=1, CISPO grad
      1.0, 1.5, (-1.28, 0.0), (-1.28, -1.28), (-1.28, -1.28), -1.28
      -1.0, 0.5, (0.8, 0.0), (0.8, 0.8), (0.2, 0.2), 0.8
      1.0, 0.5, (-0.5, -0.5), (-0.5, -0.5), (-0.5, -0.5), -0.8
      -1.0, 1.5, (1.5, 1.5), (1.5, 1.5), (1.5, 1.5), 1.28
      -1.0, 12.0, (10.0, 0.0), (10.0, 0.0), (10.0, 0.0), 1.28 ]

let workedValues =
    testList "worked values of docs/objectives.md (eps 0.2/0.28, c 10), to 1e-6" [
        for (a, r, ch, g, gen, cispoGrad) in worked do
            let case (label: string) objective (expectedLoss: float option, expectedGrad: float) =
                test $"{label}: A={a} r={r}" {
                    let t = (run objective [ r, a ]).Head
                    expectedLoss |> Option.iter (fun l -> Expect.floatClose close6 t.Loss l "loss")
                    Expect.floatClose close6 t.Grad expectedGrad "d(loss)/d(logp)"
                }
            let some (l, d) = Some l, d
            case "clip-higher" (build "clip-higher" (0.2, 0.28) (Some 10.0) (1.0, 1.0)) (some ch)
            case "gppo" (build "gppo" (0.2, 0.28) (Some 10.0) (1.0, 1.0)) (some g)
            case "gppo-general β1=0.25 β2=1" (build "gppo-general" (0.2, 0.28) (Some 10.0) (0.25, 1.0)) (some gen)
            // CISPO's loss is -w·A·logp with logp = ln r.
            let w = Reference.clamp 0.8 1.28 r
            case "cispo" (build "cispo" (0.2, 0.28) (Some 10.0) (1.0, 1.0)) (Some(-w * a * log r), cispoGrad)
    ]

type private Region =
    | PosInside
    | PosClipped
    | NegInside
    | NegLowClipped
    | NegDualClipped
    | ZeroAdvantage

/// A random token inside `region` for the given parameters, kept 1% away from every boundary.
let private sample (rng: Random) (epsLow, epsHigh) (c: float) region =
    let between lo hi = lo + (hi - lo) * (0.01 + 0.98 * rng.NextDouble())
    let mag () = between 0.1 3.0
    match region with
    | PosInside -> between 0.05 (1.0 + epsHigh), mag ()
    | PosClipped -> between (1.0 + epsHigh) 30.0, mag ()
    | NegInside -> between (1.0 - epsLow) c, -mag ()
    | NegLowClipped -> between 0.01 (1.0 - epsLow), -mag ()
    | NegDualClipped -> between c (3.0 * c), -mag ()
    | ZeroAdvantage -> between 0.05 30.0, 0.0

let private settingsGrid =
    [ (0.2, 0.28), 10.0, (0.25, 1.0)
      (0.1, 0.1), 3.0, (0.5, 2.0)
      (0.3, 0.5), 5.0, (1.0, 0.5) ]

let private objectives (beta1, beta2) =
    [ "clip-higher", Reference.ClipHigher
      "gppo", Reference.Gppo
      "gppo-general", Reference.General(beta1, beta2)
      "gppo-only-high", Reference.OnlyHigh
      "cispo", Reference.Cispo ]

let closedForm =
    testList "every region and objective: value and autograd gradient equal the closed form" [
        for (eps, c, betas) in settingsGrid do
            for (name, reference) in objectives betas do
                for dual in [ Some c; None ] do
                    test $"{name} eps={eps} c={dual} β={betas}" {
                        let rng = Random 17
                        let regions = [ PosInside; PosClipped; NegInside; NegLowClipped; ZeroAdvantage ] @ (if dual.IsSome then [ NegDualClipped ] else [])
                        let pairs = [ for region in regions do for _ in 1..8 -> sample rng eps c region ]
                        let actual = run (build name eps dual betas) pairs
                        for (t, (r, a)) in List.zip actual pairs do
                            let e = Reference.token reference eps dual (r, a)
                            Expect.floatClose tight t.Loss e.Loss $"loss at r={r} A={a}"
                            Expect.floatClose tight t.Grad e.Grad $"grad at r={r} A={a}"
                    }
    ]

/// Central difference of the objective's own forward value in logp (old log-prob 0).
let private centralDifference objective (r: float, a: float) =
    let h = 1e-6
    let lossAt logp = (run objective [ exp logp, a ]).Head.Loss
    (lossAt (log r + h) - lossAt (log r - h)) / (2.0 * h)

let finiteDifferences =
    let fd = { absolute = 1e-6; relative = 1e-5 }
    testList "central finite differences" [
        for (eps, c, betas) in settingsGrid do
            test $"clip-higher and PPO: autograd = d(forward)/d(logp) in every region, eps={eps}" {
                let rng = Random 5
                for name in [ "clip-higher"; "ppo" ] do
                    let o = if name = "ppo" then build "ppo" (fst eps, fst eps) (Some c) (1.0, 1.0) else build name eps (Some c) betas
                    for region in [ PosInside; PosClipped; NegInside; NegLowClipped; NegDualClipped; ZeroAdvantage ] do
                        let (r, a) = sample rng eps c region
                        let t = (run o [ r, a ]).Head
                        Expect.floatClose fd t.Grad (centralDifference o (r, a)) $"{name} {region} r={r} A={a}"
            }
            test $"gppo: autograd = finite difference outside the clip regions; inside, the forward is flat but the gradient is kept, eps={eps}" {
                let rng = Random 6
                let o = build "gppo" eps (Some c) betas
                for region in [ PosInside; NegInside; NegDualClipped ] do
                    let (r, a) = sample rng eps c region
                    Expect.floatClose fd (run o [ r, a ]).Head.Grad (centralDifference o (r, a)) $"{region} r={r}"
                for region, bound in [ PosClipped, 1.0 + snd eps; NegLowClipped, 1.0 - fst eps ] do
                    let (r, a) = sample rng eps c region
                    Expect.floatClose fd (centralDifference o (r, a)) 0.0 $"{region}: the forward value is constant"
                    Expect.floatClose fd (run o [ r, a ]).Head.Grad (-a * bound) $"{region}: gradient -A·bound preserved"
            }
            test $"cispo: where the weight is clamped (constant), autograd = d(forward)/d(logp), eps={eps}" {
                let rng = Random 7
                let o = build "cispo" eps None betas
                for region in [ PosClipped; NegLowClipped; NegDualClipped ] do
                    let (r, a) = sample rng eps c region
                    Expect.floatClose fd (run o [ r, a ]).Head.Grad (centralDifference o (r, a)) $"{region} r={r}"
            }
    ]

let gspo =
    test "gspo: one ratio s = exp(mean log-ratio) per sequence; a clipped sequence is silent, others get -A·s per token" {
        use _scope = torch.NewDisposeScope()
        // Row 0: log-ratios 0.1 and 0.3 (mean 0.2, s = e^0.2 ≈ 1.2214 inside 1±0.28); row 1: mean 0.5 (s ≈ 1.65 > 1.28).
        let logp = tensor2 [| [| -1.0; -2.0; -0.5 |]; [| -1.0; -1.0; -3.0 |] |]
        let old = tensor2 [| [| -1.1; -2.3; 0.0 |]; [| -1.4; -1.6; 0.0 |] |]
        let mask = tensor2 [| [| 1.0; 1.0; 0.0 |]; [| 1.0; 1.0; 0.0 |] |]
        let adv = tensor2 [| [| 1.0; 1.0; 1.0 |]; [| 2.0; 2.0; 2.0 |] |]
        let leaf = logp.detach().requires_grad_ true
        let loss = Loss.evaluate (Loss.aggregate SeqMeanTokenSum (Clipped(Gspo.gspo ClipRange.Default))) (Loss.inputsOf (PolicyBatch.create leaf old adv mask))
        loss.Total.backward ()
        let s0 = exp 0.2
        // seq-mean-token-sum over 2 sequences: row 0 contributes -A·s per token /2; row 1 is clipped: -A·1.28 per token.
        Expect.floatClose tight (scalarOf loss.Total) ((-1.0 * s0 * 2.0 + -2.0 * 1.28 * 2.0) / 2.0) "loss"
        closeArrays tight (values leaf.grad) [| -s0 / 2.0; -s0 / 2.0; 0.0; 0.0; 0.0; 0.0 |] "gradient"
    }

/// Worked values of the newer objectives in docs/objectives.md (eps 0.2/0.28, c 10; τ 1 / 1.05), recomputed there in
/// plain Python: (A, r) -> (loss, dl/dlogp) for ce-gppo, sapo, gmpo (one-token sequences).
let private workedNew =
    [ 1.0, 1.5, (-1.28, -1.28), (-2.489837, -1.410022), (-1.323130, 0.0)
      -1.0, 0.5, (0.6, 0.6), (1.415938, 0.467070), (0.818731, 0.0)
      1.0, 0.5, (-0.5, -0.5), (-1.510163, -0.470007), (-0.5, -0.5)
      -1.0, 1.5, (1.5, 1.5), (2.393585, 1.401210), (1.5, 1.5)
      -1.0, 12.0, (10.0, 0.0), (3.809487, 0.000463), (12.0, 12.0) ]

let workedValuesNew =
    testList "worked values of ce-gppo, sapo, gmpo (docs/objectives.md), to 1e-6" [
        for (a, r, ce, sapo, gmpo) in workedNew do
            for label, expected in [ "ce-gppo", ce; "sapo", sapo; "gmpo", gmpo ] do
                test $"{label}: A={a} r={r}" {
                    let t = (run (build label (0.2, 0.28) (Some 10.0) (1.0, 1.0)) [ r, a ]).Head
                    Expect.floatClose close6 t.Loss (fst expected) "loss"
                    Expect.floatClose close6 t.Grad (snd expected) "d(loss)/d(logp)"
                }
    ]

let ceGppo =
    testList "ce-gppo and the only-high mode" [
        test "ce-gppo is gppo-general with CE-GPPO's β1 = 0.75, β2 = 1, in value and gradient" {
            let rng = Random 41
            let pairs = [ for region in [ PosInside; PosClipped; NegInside; NegLowClipped; NegDualClipped; ZeroAdvantage ] do for _ in 1..6 -> sample rng (0.2, 0.28) 10.0 region ]
            Expect.equal (run (build "ce-gppo" (0.2, 0.28) (Some 10.0) (1.0, 1.0)) pairs) (run (build "gppo-general" (0.2, 0.28) (Some 10.0) (0.75, 1.0)) pairs) "same tokens"
        }
        test "gppo-only-high's gradient equals gppo-general with β1 = 0, β2 = 1 in every region (values differ on the low clip)" {
            let rng = Random 42
            for eps, c in [ (0.2, 0.28), 10.0; (0.1, 0.3), 3.0 ] do
                let pairs = [ for region in [ PosInside; PosClipped; NegInside; NegLowClipped; NegDualClipped; ZeroAdvantage ] do for _ in 1..6 -> sample rng eps c region ]
                let onlyHigh = run (build "gppo-only-high" eps (Some c) (1.0, 1.0)) pairs
                let general = run (build "gppo-general" eps (Some c) (0.0, 1.0)) pairs
                for o, g in List.zip onlyHigh general do
                    Expect.floatClose tight o.Grad g.Grad $"gradient at r={o.Ratio} A={o.Advantage}"
                    let lowClipped = o.Advantage < 0.0 && o.Ratio < 1.0 - fst eps
                    if lowClipped then Expect.floatClose tight g.Loss 0.0 "β1 = 0 zeroes the value; only-high keeps the PPO constant"
                    else Expect.floatClose tight o.Loss g.Loss $"value at r={o.Ratio} A={o.Advantage}"
        }
    ]

[<Tests>]
let tests = testList "objectives" [ workedValues; workedValuesNew; ceGppo; closedForm; finiteDifferences; gspo ]
