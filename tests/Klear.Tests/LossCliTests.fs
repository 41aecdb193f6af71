/// `klear loss inspect` and `klear loss table` as a user runs them.
module Klear.Tests.LossCliTests

open System.Text.Json
open Expecto
open Klear.Tests.TestTensors

let private inspect args =
    let r = Cli.run ([ "loss"; "inspect" ] @ args)
    Expect.equal r.ExitCode 0 $"exit code; stderr: {r.Stderr}"
    use doc = JsonDocument.Parse r.Stdout
    [ for e in doc.RootElement.EnumerateArray() ->
        e.GetProperty("ratio").GetDouble(), e.GetProperty("advantage").GetDouble(), e.GetProperty("loss").GetDouble(), e.GetProperty("grad").GetDouble() ]

let private ratios = "1.5,0.5,0.5,1.5,12"
let private advantages = "1,-1,1,-1,-1"

let private expectPairs (actual: (float * float * float * float) list) (expected: (float * float) list) =
    Expect.equal actual.Length expected.Length "one object per pair"
    for ((r, a, l, g), (el, eg)) in List.zip actual expected do
        Expect.floatClose close6 l el $"loss at r={r} A={a}"
        Expect.floatClose close6 g eg $"grad at r={r} A={a}"

let tests =
    testList "loss inspect (the spec's worked values, eps 0.2/0.28, c 10)" [
        test "clip-higher" {
            expectPairs (inspect [ "--objective"; "clip-higher"; "--dual-clip"; "10"; "--ratio"; ratios; "--advantage"; advantages ])
                [ -1.28, 0.0; 0.8, 0.0; -0.5, -0.5; 1.5, 1.5; 10.0, 0.0 ]
        }
        test "gppo" {
            expectPairs (inspect [ "--objective"; "gppo"; "--dual-clip"; "10"; "--ratio"; ratios; "--advantage"; advantages ])
                [ -1.28, -1.28; 0.8, 0.8; -0.5, -0.5; 1.5, 1.5; 10.0, 0.0 ]
        }
        test "gppo-general β1 = 0.25, β2 = 1" {
            expectPairs (inspect [ "--objective"; "gppo-general"; "--beta1"; "0.25"; "--beta2"; "1"; "--dual-clip"; "10"; "--ratio"; ratios; "--advantage"; advantages ])
                [ -1.28, -1.28; 0.2, 0.2; -0.5, -0.5; 1.5, 1.5; 10.0, 0.0 ]
        }
        test "cispo (dual clip does not apply; loss is -clamp(r)·A·ln r)" {
            let w r = max 0.8 (min 1.28 r)
            let rs = [ 1.5; 0.5; 0.5; 1.5; 12.0 ]
            let adv = [ 1.0; -1.0; 1.0; -1.0; -1.0 ]
            expectPairs (inspect [ "--objective"; "cispo"; "--dual-clip"; "10"; "--ratio"; ratios; "--advantage"; advantages ])
                (List.map2 (fun r a -> -(w r) * a * log r, -(w r) * a) rs adv)
        }
        test "ppo defaults to a symmetric range and no dual clip" {
            // r = 1.25 is clipped by ppo (1 + 0.2) but not by clip-higher (1 + 0.28); r = 12 with A<0 is not dual-clipped.
            expectPairs (inspect [ "--objective"; "ppo"; "--ratio"; "1.25,12"; "--advantage"; "1,-1" ]) [ -1.2, 0.0; 12.0, 12.0 ]
        }
        test "gppo-only-high keeps the high bound's gradient only" {
            expectPairs (inspect [ "--objective"; "gppo-only-high"; "--ratio"; "1.5,0.5"; "--advantage"; "1,-1" ]) [ -1.28, -1.28; 0.8, 0.0 ]
        }
        test "pairs come back in the given order with their inputs" {
            let out = inspect [ "--objective"; "gppo"; "--ratio"; "0.9,2,0.3"; "--advantage"; "0.5,-2,3" ]
            Expect.equal (out |> List.map (fun (r, a, _, _) -> r, a)) [ 0.9, 0.5; 2.0, -2.0; 0.3, 3.0 ] "order"
        }
        testList "errors exit 2 with a clear message" [
            for args, fragment in
                [ [ "--objective"; "gppo"; "--ratio"; "1,2"; "--advantage"; "1" ], "--ratio has 2 values but --advantage has 1"
                  [ "--objective"; "gppo"; "--ratio"; "1,0"; "--advantage"; "1,1" ], "ratio must be a finite number > 0"
                  [ "--objective"; "gppo"; "--ratio"; "-1"; "--advantage"; "1" ], "ratio must be a finite number > 0"
                  [ "--objective"; "grpo"; "--ratio"; "1"; "--advantage"; "1" ], "unknown objective 'grpo'; valid: ppo, clip-higher, gppo"
                  [ "--objective"; "gppo"; "--ratio"; "1"; "--advantage"; "1"; "--eps-hihg"; "0.3" ], "unknown option: --eps-hihg"
                  [ "--objective"; "gppo"; "--ratio"; "1,x"; "--advantage"; "1,1" ], "'x' is not a number"
                  [ "--objective"; "gppo"; "--dual-clip"; "0.5"; "--ratio"; "1"; "--advantage"; "1" ], "dual clip c must be > 1" ] do
                test (String.concat " " args) {
                    let r = Cli.run ([ "loss"; "inspect" ] @ args)
                    Expect.equal r.ExitCode 2 "exit code"
                    Expect.stringContains r.Stderr fragment "message"
                    Expect.equal r.Stdout "" "nothing on stdout"
                }
        ]
        test "loss table prints every region row for every objective" {
            let r = Cli.run [ "loss"; "table" ]
            Expect.equal r.ExitCode 0 r.Stderr
            for region in [ "A>0, r > 1+eh"; "A<0, r < 1-el"; "A<0, r > c" ] do
                Expect.stringContains r.Stdout region "row"
            // The GPPO column of the high-clipped row keeps 1 + eps_high.
            let row = r.Stdout.Split('\n') |> Array.find (fun l -> l.Contains "A>0, r > 1+eh")
            let cells = row.Split('|', System.StringSplitOptions.TrimEntries) |> Array.filter ((<>) "")
            // sapo: 4·σ(0.5)·(1 - σ(0.5))·1.5; gmpo: ln 1.5 > 0.28 is clipped in log space.
            let sigm = 1.0 / (1.0 + exp -0.5)
            let sapo = (4.0 * sigm * (1.0 - sigm) * 1.5).ToString("0.####", System.Globalization.CultureInfo.InvariantCulture)
            Expect.equal cells[3..] [| "0"; "0"; "1.28"; "1.28"; "1.28"; "1.28"; "0"; "1.28"; "1.28"; sapo; "0" |]
                "ppo, clip-higher, gppo, gppo β1, only-high, cispo, gspo, cispo-capped, ce-gppo, sapo, gmpo"
            let header = r.Stdout.Split('\n') |> Array.find (fun l -> l.Contains "| region")
            for name in Klear.Algorithms.Objective.names do
                Expect.stringContains header (if name = "gppo-general" then "gppo β1=.25" else name) "every registered objective has a column"
        }
    ]

let private total args =
    let r = Cli.run ([ "loss"; "inspect"; "--total" ] @ args)
    Expect.equal r.ExitCode 0 $"exit code; stderr: {r.Stderr}"
    use doc = JsonDocument.Parse r.Stdout
    doc.RootElement.GetProperty("loss").GetDouble(), [ for g in doc.RootElement.GetProperty("grad").EnumerateArray() -> g.GetDouble() ]

let totals =
    testList "loss inspect --total / --seq / --agg / --tau-*" [
        test "gppo, two sequences, each mode: the hand-aggregated worked values" {
            // Tokens (r, A): seq 0 = (1.5, 1), (1.1, 1); seq 1 = (0.5, -1). GPPO per-token (l, dl/dlogp):
            // (-1.28, -1.28), (-1.1, -1.1), (0.8, 0.8).
            let args mode = [ "--objective"; "gppo"; "--ratio"; "1.5,1.1,0.5"; "--advantage"; "1,1,-1"; "--seq"; "0,0,1"; "--agg"; mode ]
            let l = [ -1.28; -1.1; 0.8 ]
            let g = [ -1.28; -1.1; 0.8 ]
            for mode, scale, expectedLoss in
                [ "token-mean", [ 1.0 / 3.0; 1.0 / 3.0; 1.0 / 3.0 ], (List.sum l) / 3.0
                  "token-sum", [ 1.0; 1.0; 1.0 ], List.sum l
                  "seq-mean-token-mean", [ 0.25; 0.25; 0.5 ], ((l[0] + l[1]) / 2.0 + l[2]) / 2.0
                  "seq-mean-token-sum", [ 0.5; 0.5; 0.5 ], (List.sum l) / 2.0
                  "seq-mean-token-sum-norm", [ 0.25; 0.25; 0.25 ], (List.sum l) / (2.0 * 2.0) ] do
                let loss, grad = total (args mode)
                Expect.floatClose close6 loss expectedLoss $"{mode}: loss"
                closeArrays close6 (Array.ofList grad) (Array.ofList (List.map2 (*) g scale)) $"{mode}: gradient"
        }
        test "gmpo: one sequence's geometric mean, the clipped token has no gradient" {
            // ln 1.2 = 0.18232 is kept, ln 2 = 0.69315 > 0.28 becomes 0.28: R = exp(0.23116); loss -R; grad -R/2, 0.
            let rr = exp ((log 1.2 + 0.28) / 2.0)
            let loss, grad = total [ "--objective"; "gmpo"; "--ratio"; "1.2,2"; "--advantage"; "1,1"; "--agg"; "seq-mean-token-mean" ]
            Expect.floatClose close6 loss -rr "loss"
            closeArrays close6 (Array.ofList grad) [| -rr / 2.0; 0.0 |] "gradient"
        }
        test "sapo with --tau-pos / --tau-neg: -A·(4/τ)·σ(τ(r-1)) token-mean" {
            let sigm x = 1.0 / (1.0 + exp -x)
            let loss, grad = total [ "--objective"; "sapo"; "--tau-pos"; "2"; "--tau-neg"; "0.5"; "--ratio"; "1.5,0.5"; "--advantage"; "1,-1" ]
            let g1, g2 = sigm (2.0 * 0.5), sigm (0.5 * -0.5)
            Expect.floatClose close6 loss ((-(4.0 / 2.0) * g1 + (4.0 / 0.5) * g2) / 2.0) "loss"
            closeArrays close6 (Array.ofList grad) [| -4.0 * g1 * (1.0 - g1) * 1.5 / 2.0; 4.0 * g2 * (1.0 - g2) * 0.5 / 2.0 |] "gradient"
        }
        testList "errors exit 2" [
            for args, fragment in
                [ [ "--objective"; "gmpo"; "--ratio"; "1,2"; "--advantage"; "1,-1"; "--total" ], "a sequence-level objective needs one advantage per sequence"
                  [ "--objective"; "gppo"; "--ratio"; "1,2"; "--advantage"; "1,1"; "--seq"; "0" ], "--seq has 1 ids but --ratio has 2"
                  [ "--objective"; "gppo"; "--ratio"; "1"; "--advantage"; "1"; "--total"; "--agg"; "tokenmean" ], "unknown aggregation 'tokenmean'"
                  [ "--objective"; "sapo"; "--tau-pos"; "0"; "--ratio"; "1"; "--advantage"; "1" ], "tau_pos must be > 0" ] do
                test (String.concat " " args) {
                    let r = Cli.run ([ "loss"; "inspect" ] @ args)
                    Expect.equal r.ExitCode 2 $"exit code; stderr {r.Stderr}"
                    Expect.stringContains r.Stderr fragment "message"
                    Expect.equal r.Stdout "" "nothing on stdout"
                }
        ]
    ]

[<Tests>]
let cliTests = testSequenced (testList "cli" [ tests; totals ])
