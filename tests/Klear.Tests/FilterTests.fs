/// The pass-rate filter (`klear data filter-pass-rate`): its keep rule against counts taken from every scored sample,
/// determinism, the summary's precision and recall by hand, and the command on a tiny model: rows copied byte for
/// byte, and every bad file, row or setting refused before any sampling.
module Klear.Tests.FilterTests

open System
open System.Collections.Concurrent
open System.IO
open System.Text.Json.Nodes
open Expecto
open Klear.Host.Configuration
open Klear.Host.Data
open Klear.Host.Evaluation
open Klear.Host.Rewards
open Klear.Host.Tokenization
open Klear.Tests.ModelTestKit

let private ascii = CharTokenizer.Ascii()

/// A tiny untrained policy over the ASCII vocabulary: its samples are arbitrary but seeded.
let private policy () =
    let config =
        Klear.Host.Model.Qwen3Config(
            VocabSize = ascii.VocabSize, HiddenSize = 32, IntermediateSize = 64, NumHiddenLayers = 1, NumAttentionHeads = 2,
            NumKeyValueHeads = 2, MaxPositionEmbeddings = 512, RopeTheta = 10000.0, TieWordEmbeddings = true, InitializerRange = 0.5)
    seededModel config 3L

/// Correct when the response's character codes have an even sum: about half of arbitrary samples, so pass rates
/// spread over [0, 1]. Every call is recorded, so the test counts correct samples itself.
type private Parity() =
    member val Calls = ConcurrentBag<string * string * bool>()
    interface IRewardFunction with
        member _.Name = "parity"
        member this.ScoreAsync(response, groundTruth, _) =
            let correct = response.Length > 0 && (response |> Seq.sumBy int) % 2 = 0
            this.Calls.Add((groundTruth, response, correct))
            Threading.Tasks.Task.FromResult(RewardResult((if correct then 1.0 else 0.0), correct))

let private rows n =
    [ for i in 0 .. n - 1 ->
          VerlRow("parity", [ ChatMessage("user", sprintf "Q%d: say anything." i) ], sprintf "row-%d" i, null, null, sprintf "mem:%d" (i + 1)) ]

let private filterWith (reward: Parity) batch k min seed =
    let registry = RewardRegistry().Register(reward, [ "parity" ])
    let sampling = EvalConfig(K = k, MaxNewTokens = 6, BatchSize = batch)
    PassRateFilter(policy (), ascii, registry, sampling, min).Run(rows 12, (fun r -> r.Prompt[0].Content), seed)

let private withFlag (wrong: bool option) i =
    let extra = JsonObject()
    match wrong with
    | Some w -> extra["wrong_tests"] <- JsonValue.Create w
    | None -> ()
    VerlRow("parity", [ ChatMessage("user", "x") ], "g", null, extra, sprintf "f.jsonl:%d" (i + 1))

let library =
    testList "pass-rate filter" [
        test "keeps a row when ≥ min of its k samples are correct, counted from every scored sample; rows in order" {
            let reward = Parity()
            let k = 8
            let verdicts = filterWith reward 5 k 0.5 11L
            Expect.equal (verdicts |> List.ofSeq |> List.map (fun v -> v.Row.GroundTruth)) [ for i in 0 .. 11 -> sprintf "row-%d" i ] "one verdict per row, in order"
            let calls = List.ofSeq reward.Calls
            Expect.equal calls.Length (12 * k) "k samples scored per row, no greedy pass"
            for v in verdicts do
                let mine = calls |> List.filter (fun (g, _, _) -> g = v.Row.GroundTruth)
                let correct = mine |> List.filter (fun (_, _, c) -> c) |> List.length
                Expect.equal mine.Length k "k samples"
                Expect.equal (v.Correct, v.Samples) (correct, k) $"{v.Row.GroundTruth}: counts"
                Expect.equal v.Kept (2 * correct >= k) $"{v.Row.GroundTruth}: kept iff ≥ half correct"
            Expect.isTrue (verdicts |> Seq.exists (fun v -> v.Kept) && verdicts |> Seq.exists (fun v -> not v.Kept)) "some kept, some dropped"
            Expect.isTrue (verdicts |> Seq.exists (fun v -> v.Correct > 0 && v.Correct < k)) "fractional pass rates occur"
            Expect.isTrue (verdicts |> Seq.exists (fun v -> 2 * v.Correct = k && v.Kept)) "a row exactly at the threshold is kept (≥, not >)"
        }
        test "the same seed keeps the same rows whatever the batch size; another seed draws other samples" {
            let counts (vs: PassRateVerdict seq) = vs |> Seq.map (fun v -> v.Correct) |> List.ofSeq
            let a = filterWith (Parity()) 5 8 0.5 11L
            let b = filterWith (Parity()) 96 8 0.5 11L
            Expect.equal (counts b) (counts a) "batch size does not matter"
            Expect.notEqual (counts (filterWith (Parity()) 5 8 0.5 12L)) (counts a) "seed 12 differs"
        }
        test "min 0 keeps every row and min 1 only the rows whose every sample is correct" {
            let all = filterWith (Parity()) 16 4 0.0 11L
            Expect.isTrue (all |> Seq.forall (fun v -> v.Kept)) "min 0"
            let strict = filterWith (Parity()) 16 4 1.0 11L
            for v in strict do Expect.equal v.Kept (v.Correct = 4) "min 1"
        }
        test "summary: kept shares per kind, precision and recall of dropping, by hand; unflagged rows are not counted" {
            // 4 rows with wrong tests (1 kept), 6 clean (4 kept), 2 without the flag (both dropped).
            let flags = [ for _ in 1 .. 4 -> Some true ] @ [ for _ in 1 .. 6 -> Some false ] @ [ None; None ]
            let kept = [ true; false; false; false; true; true; true; true; false; false; false; false ]
            let verdicts = List.mapi2 (fun i f keep -> PassRateVerdict(withFlag f i, (if keep then 2 else 0), 2, keep)) flags kept
            let s = PassRateFilterSummary.Of(verdicts, 2, 0.5, 1.0)
            Expect.equal (s.Rows, s.Kept) (12, 5) "rows and kept"
            Expect.equal (s.WrongRows, s.WrongKept, s.CleanRows, s.CleanKept) (4, 1, 6, 4) "per kind"
            Expect.floatClose Accuracy.veryHigh s.Recall.Value 0.75 "3 of 4 wrong rows dropped"
            Expect.floatClose Accuracy.veryHigh s.Precision.Value 0.6 "3 of the 5 flagged rows dropped had wrong tests"
            Expect.floatClose Accuracy.veryHigh s.KeptShareClean.Value (4.0 / 6.0) "clean kept share"
            Expect.floatClose Accuracy.veryHigh s.MeanPassRate (5.0 / 12.0) "mean pass rate"
            let json = s.ToJson()
            Expect.equal (json["recall"].GetValue<double>()) 0.75 "json"
            Expect.stringContains (s.Table()) "wrong tests" "the table"
            let none = PassRateFilterSummary.Of([ PassRateVerdict(withFlag None 0, 0, 2, false) ], 2, 0.5, 1.0)
            Expect.isFalse none.HasFlags "no flags"
            Expect.isNull (none.ToJson()["precision"]) "no precision without flags"
        }
        test "a wrong_tests flag that is not true or false names the file, the row and the field" {
            let extra = JsonObject()
            extra["wrong_tests"] <- JsonValue.Create "yes"
            let row = VerlRow("parity", [ ChatMessage("user", "x") ], "g", null, extra, "data/f.jsonl:7")
            let message = try PassRateFilterSummary.WrongTests row |> ignore; "" with :? DataFormatException as e -> e.Message
            Expect.stringContains message "data/f.jsonl: row 7: field 'extra_info.wrong_tests'" "names it"
        }
    ]

// ---- the command ---------------------------------------------------------------------------------------------------

let private modelDir =
    lazy
        (let dir = tempDir "filter-model"
         Klear.Host.Checkpoints.HfCheckpoint.Save(policy (), dir)
         dir)

let private writeData (dir: string) count share =
    let file = Path.Combine(dir, "in.jsonl")
    let r = Cli.run [ "data"; "synthetic-code"; "--out"; file; "--count"; string count; "--seed"; "4"; "--wrong-tests-share"; string share ]
    Expect.equal r.ExitCode 0 r.Stderr
    file

let private filter (args: string list) =
    Cli.run ([ "data"; "filter-pass-rate"; "--model"; modelDir.Value; "model.tokenizer=ascii"; "eval.max_new_tokens=8"; "eval.batch_size=20" ] @ args)

let command =
    testList "data filter-pass-rate" [
        Requirements.sandboxTest "on synthetic code: min 0 copies every row byte for byte, min 0.5 keeps none of an untrained policy's; summaries count the wrong-test rows" {
            let dir = tempDir "filter"
            let input = writeData dir 10 0.3
            let out, summary = Path.Combine(dir, "all.jsonl"), Path.Combine(dir, "all.summary.json")
            let r = filter [ "--files"; input; "--k"; "2"; "--min"; "0"; "--out"; out; "--summary"; summary; "--seed"; "5" ]
            Expect.equal r.ExitCode 0 r.Stderr
            Expect.sequenceEqual (File.ReadAllBytes out) (File.ReadAllBytes input) "every row, unchanged"
            let s = JsonNode.Parse(File.ReadAllText summary)
            for key, value in [ "rows", 10; "kept", 10; "k", 2; "wrong_tests_rows", 3; "wrong_tests_kept", 3; "clean_rows", 7; "clean_kept", 7 ] do
                Expect.equal (s[key].GetValue<int>()) value key
            Expect.stringContains r.Stdout "kept 10 of 10 rows" "the summary line"
            // An untrained policy writes no program: every row drops, so precision is the wrong-test share and recall 1.
            let none = Path.Combine(dir, "none.jsonl")
            let r = filter [ "--files"; input; "--k"; "2"; "--out"; none; "--summary"; summary ]
            Expect.equal r.ExitCode 0 r.Stderr
            Expect.equal (File.ReadAllText none) "" "nothing kept"
            Expect.stringContains r.Stderr "no row reached the minimum pass rate" "says so"
            let s = JsonNode.Parse(File.ReadAllText summary)
            Expect.equal (s["min_pass_rate"].GetValue<double>(), s["kept"].GetValue<int>()) (0.5, 0) "default min 0.5"
            Expect.equal (s["precision"].GetValue<double>(), s["recall"].GetValue<double>()) (0.3, 1.0) "3 of 10 dropped rows had wrong tests; all 3 dropped"
        }
        test "bad input fails in seconds, before any sampling, naming the file, row and field, and writes nothing" {
            let dir = tempDir "filter-bad"
            let good = writeData dir 3 0.0
            let lines = File.ReadAllLines good
            let variant name (edit: JsonObject -> unit) =
                let row = JsonNode.Parse(lines[1]).AsObject()
                edit row
                let file = Path.Combine(dir, name + ".jsonl")
                File.WriteAllLines(file, [ lines[0]; row.ToJsonString(); lines[2] ])
                file
            let badTests = variant "tests" (fun r -> r["reward_model"]["ground_truth"] <- JsonValue.Create """{"inputs": ["1"], "outputs": []}""")
            let badSource = variant "source" (fun r -> r["data_source"] <- JsonValue.Create "chess")
            let badPrompt = variant "prompt" (fun r -> let m = r["prompt"].AsArray().[0] in m["content"] <- JsonValue.Create "Lire n entiers, écrire leur somme.")
            let badFlag = variant "flag" (fun r -> r["extra_info"]["wrong_tests"] <- JsonValue.Create "maybe")
            let out = Path.Combine(dir, "out.jsonl")
            for args, expected in
                [ [ "--files"; badTests ], "tests.jsonl: row 2: field 'reward_model.ground_truth'"
                  [ "--files"; badSource ], "source.jsonl: row 2: field 'data_source': no reward for 'chess'"
                  [ "--files"; badPrompt ], "prompt.jsonl: row 2: field 'prompt'"
                  [ "--files"; badFlag ], "flag.jsonl: row 2: field 'extra_info.wrong_tests'"
                  [ "--files"; good + "," + Path.Combine(dir, "missing.jsonl") ], "missing.jsonl"
                  [ "--files"; good; "--min"; "1.5" ], "--min must be in [0, 1]"
                  [ "--files"; good; "--k"; "0" ], "--k must be at least 1"
                  [ "--files"; good; "eval.top_p=0" ], "eval.top_p"
                  [ "--files"; good; "model.tokenizer=arithmetic" ], "model.tokenizer: the arithmetic vocabulary has 23 tokens" ] do
                let r = filter (args @ [ "--out"; out ])
                Expect.equal r.ExitCode 2 (String.Join(" ", args))
                Expect.stringContains r.Stderr expected (String.Join(" ", args))
                Expect.isFalse (r.Stdout.Contains "sampling") "no sampling started"
                Expect.isFalse (File.Exists out) "no output"
            let r = filter [ "--files"; good; "--out"; good ]
            Expect.equal r.ExitCode 2 "the output may not overwrite an input"
            Expect.stringContains r.Stderr "is also an input file" "says so"
            let r = Cli.run [ "data"; "filter-pass-rate"; "--model"; Path.Combine(dir, "nope"); "--files"; good; "--out"; out ]
            Expect.equal r.ExitCode 2 "a missing model"
            Expect.stringContains r.Stderr "is not a directory" "names it"
        }
        test "--help names the rule and the sampling keys" {
            let r = Cli.run [ "data"; "filter-pass-rate"; "--help" ]
            Expect.equal r.ExitCode 0 r.Stderr
            for s in [ "--k"; "--min"; "--files"; "--summary"; "eval.temperature"; "full reward" ] do Expect.stringContains r.Stdout s s
        }
    ]

[<Tests>]
let tests = testList "filter" [ library; command ]
