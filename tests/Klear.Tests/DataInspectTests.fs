/// `klear data inspect` on verl files written by a real Arrow writer (tests/data/make-parquet-fixtures.mjs), compared
/// with the JSON the generator wrote beside them, and its errors for malformed rows.
module Klear.Tests.DataInspectTests

open System.IO
open System.Text.Json.Nodes
open Expecto

let private fixture name = Repo.file [ "tests"; "data"; name ]

let private jsonLines (text: string) =
    text.Split('\n') |> Array.filter (fun l -> l.Trim() <> "") |> Array.map JsonNode.Parse |> List.ofArray

let private inspect (args: string list) =
    let r = Cli.run ("data" :: "inspect" :: args)
    Expect.equal r.ExitCode 0 $"klear data inspect {args} (stderr: {r.Stderr})"
    r.Stdout

let private expectRowsAsWritten (file: string) (expected: string) =
    let got = jsonLines (inspect [ fixture file; "--json" ])
    let want = jsonLines (File.ReadAllText(fixture expected))
    Expect.equal got.Length want.Length $"{file}: one object per row"
    for i, (g, w) in List.indexed (List.zip got want) do
        Expect.isTrue (JsonNode.DeepEquals(g, w)) $"{file} row {i + 1}:\n  klear     {g.ToJsonString()}\n  generator {w.ToJsonString()}"

let private expectBad (args: string list) (fragment: string) =
    let r = Cli.run ("data" :: "inspect" :: args)
    Expect.equal r.ExitCode 2 $"exit code (stderr: {r.Stderr})"
    Expect.stringContains r.Stderr fragment "names file, row and field"
    Expect.equal r.Stdout "" "nothing printed before the error"

[<Tests>]
let tests =
    testList "klear data inspect" [
        test "--json gives every row as the Arrow writer was given it: math rows, code rows, and the same rows as JSON Lines" {
            expectRowsAsWritten "verl-arrow.parquet" "verl-arrow.expected.jsonl"
            expectRowsAsWritten "verl-code.parquet" "verl-code.expected.jsonl"
            expectRowsAsWritten "verl-code.jsonl" "verl-code.expected.jsonl"
            Expect.equal (jsonLines (inspect [ fixture "verl-code.parquet"; "--json"; "--rows"; "2" ])).Length 2 "--rows limits --json"
        }

        test "the summary shows the row count, the stored Arrow types with verl's roles, and the first rows with their code tests" {
            let out = inspect [ fixture "verl-code.parquet"; "--rows"; "2" ]
            Expect.stringContains out "verl-code.parquet: 4 rows (parquet)" "row count"
            Expect.stringContains out "  prompt        list<struct<role: string, content: string>>" "prompt as pyarrow names it"
            Expect.stringContains out "limits: struct<time_s: double, memory_mb: int64>" "nested struct of extra_info"
            Expect.stringContains out "picks the reward function (required)" "data_source's role"
            Expect.stringContains out "data sources: codeforces (1), livecodebench (1), primeintellect (1), taco (1)" "sources"
            Expect.stringContains out "first 2 of 4 rows" "--rows"
            Expect.stringContains out "code tests: 2 stdin/stdout, 1 used (max_test_cases), timeout 5 s" "row 2's tests, parsed"
            Expect.isFalse (out.Contains "row 3:") "only two rows"
            let types = inspect [ fixture "arrow-types.parquet"; "--rows"; "0" ]
            for t in [ "dictionary<values=string, indices=int32>"; "map<string, double>"; "timestamp[millisecond, tz=UTC]"; "uint32"; "large_string" ] do
                Expect.stringContains types t "Arrow type"
        }

        test "a JSON Lines file's schema is the kinds its rows hold, with null and missing where rows differ" {
            let path = Path.Combine(ModelTestKit.tempDir "inspect", "messy.jsonl")
            File.WriteAllLines(path, [
                """{"data_source": "math", "prompt": [{"role": "user", "content": "1+1"}], "reward_model": {"ground_truth": "2"}, "extra_info": {"a": 1}}"""
                ""
                """{"data_source": "math", "prompt": "2+2", "reward_model": {"ground_truth": 4}, "extra_info": {"b": "x", "a": null}}"""
                """{"data_source": "math", "prompt": [], "reward_model": {"ground_truth": "3"}, "note": true}""" ])
            expectBad [ path ] $"{path}: row 4: field 'prompt': empty message list"
            File.WriteAllLines(path, (File.ReadAllLines path)[..2])
            let out = inspect [ path ]
            Expect.stringContains out "messy.jsonl: 2 rows (JSON Lines)" "blank line skipped"
            Expect.stringContains out "  prompt        string|list<struct<role: string, content: string>>" "a plain-string prompt"
            Expect.stringContains out "  reward_model  struct<ground_truth: number|string>" "ground truths of two kinds"
            Expect.stringContains out "  extra_info    struct<a: number|null, b: string|missing>" "null and missing members"
            let rows = jsonLines (inspect [ path; "--json" ])
            Expect.isTrue (JsonNode.DeepEquals(rows[1].["prompt"], JsonNode.Parse """[{"role":"user","content":"2+2"}]""")) "a string prompt is one user message"
            Expect.equal (rows[1].["ground_truth"].GetValue<string>()) "4" "a number ground truth as its JSON text"
        }

        test "a malformed row names file, row and field, and nothing is printed" {
            expectBad [ fixture "malformed-prompt.parquet" ] "malformed-prompt.parquet: row 2: field 'prompt[1].content': missing"
            expectBad [ fixture "malformed-prompt.parquet"; "--json" ] "malformed-prompt.parquet: row 2: field 'prompt[1].content': missing"
            expectBad [ fixture "malformed-code-tests.parquet" ] "malformed-code-tests.parquet: row 2: field 'reward_model.ground_truth': 2 inputs but 1 outputs"
            expectBad [ fixture "missing-ground-truth.parquet" ] "missing-ground-truth.parquet: row 2: field 'reward_model.ground_truth': missing"
            let dir = ModelTestKit.tempDir "inspect-bad"
            let bad = Path.Combine(dir, "bad.jsonl")
            File.WriteAllLines(bad, [ File.ReadAllLines(fixture "verl-code.jsonl")[0]; ""; "{\"data_source\": " ])
            expectBad [ bad ] $"{bad}: row 3: field '(line)': not valid JSON"
            let junk = Path.Combine(dir, "junk.parquet")
            File.WriteAllText(junk, "not parquet")
            expectBad [ junk ] $"{junk}: row 0: field '(schema)': not a readable parquet file"
            expectBad [ Path.Combine(dir, "absent.parquet") ] "dataset not found"
            expectBad [ fixture "verl-code.parquet"; "--rows"; "-1" ] "--rows: expected a count >= 0, got -1"
        }
    ]
