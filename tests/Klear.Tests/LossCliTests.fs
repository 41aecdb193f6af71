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
            Expect.equal cells[3..] [| "0"; "0"; "1.28"; "1.28"; "1.28"; "1.28" |] "ppo, clip-higher, gppo, gppo β1, only-high, cispo"
        }
    ]

[<Tests>]
let cliTests = testSequenced (testList "cli" [ tests ])
