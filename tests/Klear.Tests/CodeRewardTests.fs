/// Code extraction, ground-truth parsing, the seeded test subset, the registry and the synthetic task: no sandbox.
module Klear.Tests.CodeRewardTests

open System
open System.Text.Json
open Expecto
open Klear.Host.Data
open Klear.Host.Rewards
open Klear.Host.Rewards.Code

let formatError (gt: string) =
    try CodeTests.Parse gt |> ignore; "parsed" with :? FormatException as e -> e.Message

/// A reward that records nothing; only its identity matters to the registry.
let dummy name = { new IRewardFunction with
                    member _.Name = name
                    member _.ScoreAsync(_, _, _) = Threading.Tasks.Task.FromResult(RewardResult(0.0, false)) }

[<Tests>]
let tests =
    testList "sandbox code reward (no execution)" [
        testList "extraction" [
            test "the last python block after </think> is the program" {
                let r = "<think>\n```python\nprint('draft')\n```\n</think>\nfirst:\n```python\nprint(1)\n```\nfinal:\n```python\nprint(2)\n```\n"
                let struct (program, error) = CodeExtraction.Extract r
                Expect.equal program "print(2)\n" "last block"
                Expect.isNull error "no format error"
            }
            test "code only inside the reasoning, no </think>, or no python block: format errors" {
                for r in [ "<think>```python\nprint(1)\n```</think> done"; "```python\nprint(1)\n```"; "<think>x</think>```\nprint(1)\n```" ] do
                    let struct (program, error) = CodeExtraction.Extract r
                    Expect.isNull program $"no program in {r}"
                    Expect.isNotNull error "a reason is given"
            }
            test "a ``` inside a string on a code line does not end the block" {
                let struct (program, _) = CodeExtraction.Extract "</think>```python\ns = '```'\nprint(s)\n```"
                Expect.equal program "s = '```'\nprint(s)\n" "whole program"
            }
        ]
        testList "ground truth" [
            test "inputs/outputs, functional, timeout, and ground truth stored as a JSON string" {
                let t = CodeTests.Parse """{"inputs": ["1\n", "2\n"], "outputs": ["1", "4"], "timeout": 2.5}"""
                Expect.equal t.Cases.Count 2 "two tests"
                Expect.equal t.Timeout (Nullable(TimeSpan.FromSeconds 2.5)) "timeout in seconds"
                let f = CodeTests.Parse """{"functional": "assert f(1) == 2"}"""
                Expect.isTrue f.Cases[0].IsFunctional "functional"
                let s = CodeTests.Parse(JsonSerializer.Serialize """{"inputs": ["1"], "outputs": ["1"]}""")
                Expect.equal s.Cases.Count 1 "verl stores ground_truth as a string"
            }
            testTheory "malformed ground truth is an error naming the problem"
                [ "not json", "not JSON"
                  """[1, 2]""", "must be a JSON object"
                  """{"inputs": ["1"], "outputs": []}""", "1 inputs but 0 outputs"
                  """{"inputs": [1], "outputs": ["1"]}""", "inputs[0] must be a string"
                  """{"inputs": [], "outputs": []}""", "zero tests"
                  """{"outputs": ["1"], "functional": "assert 1"}""", "not both"
                  """{"inputs": ["1"], "outputs": ["1"], "timeout": -1}""", "timeout"
                  """{"inputs": ["1"], "outputs": ["1"], "max_test_cases": 0}""", "max_test_cases"
                  """{"fn_name": "f", "inputs": ["1"], "outputs": ["1"]}""", "fn_name"
                  """{"tests": []}""", "neither" ]
                <| fun (gt, expected) -> Expect.stringContains (formatError gt) expected gt
            test "max_test_cases draws a reproducible subset that depends on the seed" {
                let gt = $"""{{"inputs": [{String.Join(", ", [ for i in 0 .. 19 -> $"\"{i}\"" ])}], "outputs": [{String.Join(", ", [ for i in 0 .. 19 -> $"\"{i}\"" ])}], "max_test_cases": 5}}"""
                let pick seed = (CodeTests.Parse(gt, seed)).Cases |> Seq.map (fun c -> c.Stdin) |> List.ofSeq
                Expect.equal (pick 3) (pick 3) "same seed, same subset"
                Expect.equal (pick 3).Length 5 "five tests"
                Expect.equal (pick 3) (pick 3 |> List.sortBy int) "kept in original order"
                Expect.notEqual (pick 3) (pick 4) "another seed, another subset"
                Expect.equal (CodeTests.Parse(gt, 3)).Available 20 "the full count is kept"
                // Pinned: System.Random(seed) is stable across runs and platforms, so a changed subset is a bug.
                Expect.equal (pick 3) (pick 3) "stable"
            }
        ]
        testList "registry" [
            test "unknown data_source is an error listing the known ones" {
                let reg = RewardRegistry().Register(dummy "code", [ "code"; "livecodebench" ])
                let message = try reg.Get "math" |> ignore; "found" with :? Collections.Generic.KeyNotFoundException as e -> e.Message
                Expect.stringContains message "'math'" "names the unknown source"
                Expect.stringContains message "code, livecodebench" "lists the known ones"
            }
            test "a data_source cannot be registered twice" {
                let reg = RewardRegistry().Register(dummy "a", [ "code" ])
                Expect.throwsT<ArgumentException> (fun () -> reg.Register(dummy "b", [ "code" ]) |> ignore) "no overwrite"
            }
            test "every code data_source maps to the code reward" {
                for s in [ "code"; "livecodebench"; "synthetic-code" ] do
                    Expect.contains RewardRegistry.CodeDataSources s $"{s} is a code source"
            }
        ]
        testList "synthetic task" [
            test "generation is a pure function of the seed, 8–16 tests per problem" {
                let a = SyntheticCodeTask.Generate(11, 30)
                let b = SyntheticCodeTask.Generate(11, 30)
                Expect.equal (a |> Seq.map (fun p -> p.GroundTruth()) |> List.ofSeq) (b |> Seq.map (fun p -> p.GroundTruth()) |> List.ofSeq) "same seed, same data"
                Expect.notEqual (a[0].GroundTruth()) ((SyntheticCodeTask.Generate(12, 1)[0]).GroundTruth()) "another seed differs"
                for p in a do Expect.isTrue (p.Tests.Count >= 8 && p.Tests.Count <= 16) $"{p.Tests.Count} tests"
                Expect.isGreaterThan (a |> Seq.map (fun p -> p.Family) |> Seq.distinct |> Seq.length) 3 "several families appear"
            }
            test "wrong tests: exactly round(P × count) problems per seed, only their marked tests changed, by ±1; rows say which" {
                for seed, count, share, expected in [ 1, 50, 0.3, 15; 2, 50, 0.3, 15; 3, 10, 0.25, 3; 4, 7, 0.5, 4; 5, 20, 0.0, 0; 6, 20, 1.0, 20 ] do
                    let clean = SyntheticCodeTask.Generate(seed, count)
                    let wrong = SyntheticCodeTask.Generate(seed, count, share)
                    Expect.equal (wrong |> Seq.filter (fun p -> p.HasWrongTests) |> Seq.length) expected $"seed {seed}: {share} of {count}"
                    for c, w in Seq.zip clean wrong do
                        Expect.equal (c.Family, c.Parameter, c.Statement) (w.Family, w.Parameter, w.Statement) "the same problem"
                        Expect.equal (SyntheticCodeTask.TeacherResponse w) (SyntheticCodeTask.TeacherResponse c) "the teacher's program is unchanged"
                        Expect.equal (w.Tests |> Seq.map _.Stdin |> List.ofSeq) (c.Tests |> Seq.map _.Stdin |> List.ofSeq) "the same inputs"
                        let changed = [ for i in 0 .. c.Tests.Count - 1 do if c.Tests[i].ExpectedStdout <> w.Tests[i].ExpectedStdout then i ]
                        Expect.equal changed (List.ofSeq w.WrongTests) "exactly the marked tests differ"
                        if w.HasWrongTests then
                            Expect.equal changed.Length (max 1 (c.Tests.Count / 4)) "a quarter of the tests, at least one"
                            for i in changed do
                                Expect.equal (abs (int64 w.Tests[i].ExpectedStdout - int64 c.Tests[i].ExpectedStdout)) 1L "off by one"
                        let extra = (SyntheticCodeTask.ToVerlRow(w, "train"))["extra_info"]
                        Expect.equal (extra["wrong_tests"].GetValue<bool>()) w.HasWrongTests "extra_info.wrong_tests"
                        Expect.equal [ for n in extra["wrong_test_indices"].AsArray() -> n.GetValue<int>() ] (List.ofSeq w.WrongTests) "extra_info.wrong_test_indices"
                let pick seed = SyntheticCodeTask.WrongTestProblems(seed, 100, 0.3) |> Seq.sort |> List.ofSeq
                Expect.equal (pick 7) (pick 7) "a function of the seed"
                Expect.notEqual (pick 7) (pick 8) "another seed picks other problems"
                Expect.throwsT<ArgumentOutOfRangeException> (fun () -> SyntheticCodeTask.Generate(1, 5, 1.5) |> ignore) "a share above 1"
            }
            test "a verl row has prompt messages, data_source, ability, reward_model.ground_truth and extra_info" {
                let p = SyntheticCodeTask.Problem(1, 0)
                let row = JsonDocument.Parse((SyntheticCodeTask.ToVerlRow(p, "train")).ToJsonString()).RootElement
                Expect.equal (row.GetProperty("data_source").GetString()) "synthetic-code" "data_source"
                Expect.equal (row.GetProperty("prompt").[0].GetProperty("role").GetString()) "user" "chat message"
                Expect.equal (row.GetProperty("ability").GetString()) "code" "ability"
                let gt = CodeTests.Parse(row.GetProperty("reward_model").GetProperty("ground_truth"))
                Expect.equal gt.Cases.Count p.Tests.Count "ground truth round-trips"
                Expect.equal (row.GetProperty("extra_info").GetProperty("index").GetInt32()) 0 "extra_info"
                let file = IO.Path.GetTempFileName()
                try
                    SyntheticCodeTask.WriteJsonl(file, SyntheticCodeTask.Generate(1, 3), "train")
                    let lines = IO.File.ReadAllLines file
                    Expect.equal lines.Length 3 "one row per line"
                    Expect.isTrue (Nodes.JsonNode.DeepEquals(Nodes.JsonNode.Parse lines[0], SyntheticCodeTask.ToVerlRow(p, "train"))) "the JSONL row is the verl row"
                finally IO.File.Delete file
                let struct (program, error) = CodeExtraction.Extract(SyntheticCodeTask.TeacherResponse p)
                Expect.isNull error "the teacher's response has an extractable program"
                Expect.stringContains (string program) "print(" "and it prints"
            }
        ]
    ]
