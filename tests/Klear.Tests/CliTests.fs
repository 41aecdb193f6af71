/// The `klear` command line as a user meets it: help, usage errors, and what it prints when stdout is not a terminal.
module Klear.Tests.CliTests

open System
open System.IO
open Expecto
open Klear.Host.Evaluation

let private lines (s: string) = s.Split('\n') |> Array.map (fun l -> l.TrimEnd '\r')

/// The rows of a help section ("Options:", "Commands:"): the indented lines up to the next blank line.
let private section (title: string) (text: string) =
    lines text |> Array.skipWhile ((<>) title) |> Array.skip 1 |> Array.takeWhile (fun l -> l.Trim() <> "")

/// A help row's two columns, split at the first run of two or more spaces after the name.
let private columns (row: string) =
    let parts = row.Trim().Split("  ", 2, StringSplitOptions.None)
    parts[0].Trim(), (if parts.Length > 1 then parts[1].Trim() else "")

let private expectUsageError (args: string list) (fragment: string) =
    let r = Cli.run args
    Expect.equal r.ExitCode 2 $"exit code of klear {String.Join(' ', args)} (stderr: {r.Stderr})"
    Expect.stringContains r.Stderr fragment "message names the problem"
    Expect.equal r.Stdout "" "nothing on stdout"

let private help =
    testList "help" [
        test "klear, klear help, --help and -h print the same usage, main job first, and exit 0" {
            let runs = [ []; [ "help" ]; [ "--help" ]; [ "-h" ] ] |> List.map Cli.run
            for r in runs do Expect.equal r.ExitCode 0 $"exit code (stderr: {r.Stderr})"
            Expect.allEqual (runs |> List.map (fun r -> r.Stdout)) runs.Head.Stdout "one usage text"
            let listed = section "Commands:" runs.Head.Stdout |> Array.map (columns >> fst) |> List.ofArray
            Expect.equal (List.truncate 3 listed) [ "quickstart"; "train"; "eval" ] "main job first"
            for c in [ "loss inspect"; "loss table"; "model logits"; "data export"; "verify math"; "sandbox run" ] do
                Expect.contains listed c "every command by its full name"
        }
        test "klear help COMMAND is COMMAND --help" {
            let a, b = Cli.run [ "help"; "loss"; "inspect" ], Cli.run [ "loss"; "inspect"; "--help" ]
            Expect.equal (a.ExitCode, b.ExitCode) (0, 0) "exit codes"
            Expect.equal a.Stdout b.Stdout "same text"
        }
        test "loss inspect --help lists every option with its description, default and whether it is required" {
            let r = Cli.run [ "loss"; "inspect"; "--help" ]
            Expect.equal r.ExitCode 0 r.Stderr
            let rows = section "Options:" r.Stdout |> Array.map columns |> Array.map (fun (n, d) -> n.Split(' ')[0], (n, d)) |> Map.ofArray
            for name in [ "--objective"; "--eps-low"; "--eps-high"; "--dual-clip"; "--beta1"; "--beta2"; "--ratio"; "--advantage" ] do
                Expect.isTrue (rows.ContainsKey name) $"{name} listed"
            Expect.stringContains (snd rows["--objective"]) "gppo-only-high" "--objective names the objectives"
            Expect.stringContains (fst rows["--objective"]) "(REQUIRED)" "--objective is required"
            Expect.stringContains (snd rows["--eps-low"]) "[default: 0.2]" "--eps-low shows the paper's default"
            Expect.stringContains (fst rows["--ratio"]) "(REQUIRED)" "--ratio is required"
        }
        test "every command's --help exits 0 and gives every option a description" {
            let listed = section "Commands:" (Cli.run [ "--help" ]).Stdout |> Array.map (columns >> fst)
            Expect.isGreaterThanOrEqual listed.Length 15 "all commands listed"
            for command in listed do
                let r = Cli.run [ yield! command.Split ' '; "--help" ]
                Expect.equal r.ExitCode 0 $"{command} --help (stderr: {r.Stderr})"
                Expect.stringContains r.Stdout $"klear {command}" $"{command}: usage line"
                for row in section "Options:" r.Stdout |> Array.filter (fun l -> l.TrimStart().StartsWith "-") do
                    let name, description = columns row
                    Expect.isNotEmpty description $"{command}: {name} has a description"
        }
        test "train --help lists the config overrides argument and the config options" {
            let r = Cli.run [ "train"; "--help" ]
            Expect.equal r.ExitCode 0 r.Stderr
            Expect.stringContains r.Stdout "key.sub_key=value" "overrides argument"
            for name in [ "--config"; "--seed"; "--output-dir"; "--resume" ] do Expect.stringContains r.Stdout name name
        }
    ]

let private usageErrors =
    testList "usage errors exit 2 naming the problem" [
        test "unknown option" { expectUsageError [ "loss"; "table"; "--dula-clip"; "5" ] "unknown option: --dula-clip" }
        test "unknown option on a command taking overrides" { expectUsageError [ "quickstart"; "--sed"; "3" ] "unknown option: --sed" }
        test "missing required option" { expectUsageError [ "model"; "logits"; "--model"; "/nonexistent" ] "--input-ids" }
        test "bad integer" { expectUsageError [ "loss"; "bench"; "--batch"; "many" ] "--batch: 'many' is not an integer" }
        test "bad number" { expectUsageError [ "loss"; "table"; "--dual-clip"; "1,5" ] "--dual-clip: '1,5' is not a number" }
        test "value outside a choice" { expectUsageError [ "data"; "export"; "--out"; "/tmp/never"; "--format"; "csv" ] "--format: expected jsonl or parquet, got 'csv'" }
        test "option without its value" { expectUsageError [ "loss"; "table"; "--dual-clip" ] "--dual-clip" }
        test "unknown command" { expectUsageError [ "trian" ] "unknown command 'trian'" }
        test "unknown subcommand" { expectUsageError [ "loss"; "inspcet" ] "unknown command 'loss inspcet'" }
        test "a group without its subcommand lists them" {
            let r = Cli.run [ "loss" ]
            Expect.equal r.ExitCode 2 "exit code"
            for c in [ "inspect"; "table"; "bench" ] do Expect.stringContains r.Stderr c "lists the subcommands"
        }
        test "an unknown command lists the commands on stderr" {
            let r = Cli.run [ "trian" ]
            Expect.stringContains r.Stderr "quickstart" "usage on stderr"
        }
        test "an override that is not key=value" { expectUsageError [ "train"; "trainer.steps" ] "unexpected argument 'trainer.steps'" }
        test "an argument to a command that takes none" { expectUsageError [ "loss"; "table"; "extra" ] "unexpected argument 'extra'" }
        test "--resume with overrides" { expectUsageError [ "train"; "--resume"; "/tmp/never"; "seed=1" ] "--resume takes no other options" }
        test "config overrides: unknown key, bad value; nothing is written" {
            let root = Path.Combine(Path.GetTempPath(), "klear-cli-" + Guid.NewGuid().ToString("N"))
            expectUsageError [ "train"; "--output-dir"; root; "trainer.stepz=3" ] "unknown config key 'trainer.stepz'"
            expectUsageError [ "quickstart"; "--output-dir"; root; "trainer.steps=many" ] "trainer.steps"
            expectUsageError [ "eval"; "--model"; root; "eval.k=0.5" ] "eval.k"
            Expect.isFalse (Directory.Exists root) "no run directory"
        }
        test "negative numbers are option values, not options" {
            let r = Cli.run [ "loss"; "inspect"; "--objective"; "ppo"; "--eps-low=0.1"; "--ratio"; "0.5"; "--advantage"; "-2" ]
            Expect.equal r.ExitCode 0 r.Stderr
            use doc = System.Text.Json.JsonDocument.Parse r.Stdout
            let token = doc.RootElement[0]
            Expect.equal (token.GetProperty("advantage").GetDouble()) -2.0 "A = -2"
            // ppo with eps 0.1: r = 0.5 < 0.9 and A < 0 is clipped, loss = -A·clip(r) = 2·0.9, no gradient.
            Expect.floatClose Accuracy.veryHigh (token.GetProperty("loss").GetDouble()) 1.8 "loss clipped at 1 - 0.1"
            Expect.equal (token.GetProperty("grad").GetDouble()) 0.0 "no gradient"
        }
    ]

/// A run of a few seconds: 10 SFT steps, 5 RL steps, an evaluation after each phase.
let private tinyRun =
    [ "sft.steps=10"; "sft.batch_size=4"; "trainer.steps=5"; "trainer.eval_every=0"; "model.layers=1"; "model.hidden=32"; "model.heads=2"
      "model.kv_heads=1"; "trainer.prompts_per_step=2"; "rollout.n=2"; "rollout.max_new_tokens=8"; "data.eval_problems=4"; "eval.k=1"
      "eval.max_new_tokens=8" ]

let private output =
    testList "printed output: plain when stdout is not a terminal, live on one" [
        test "the evaluation summary is a Markdown table of the figures" {
            let table = EvalSummary(16, 4, 0.5, 0.75, 0.625, Nullable(), 12.34).Table()
            let rows = lines table |> Array.map (fun l -> l.Split('|', StringSplitOptions.TrimEntries) |> Array.filter ((<>) ""))
            Expect.equal rows.Length 3 "header, alignment row, one row of figures"
            Expect.equal rows[0] [| "problems"; "avg@4"; "pass@4"; "maj@4"; "greedy"; "mean response tokens" |] "header"
            Expect.all rows[1] (fun c -> c.Trim(':').Length > 0 && c.Trim(':') |> Seq.forall ((=) '-')) "Markdown alignment row"
            Expect.equal rows[2] [| "16"; "0.5000"; "0.7500"; "0.6250"; "-"; "12.3" |] "figures"
        }
        test "a training run prints plain progress lines and tables, no escape codes" {
            let root = Path.Combine(Path.GetTempPath(), "klear-cli-" + Guid.NewGuid().ToString("N"))
            let r = Cli.run ([ "train"; "--output-dir"; root ] @ tinyRun)
            Expect.equal r.ExitCode 0 r.Stderr
            Expect.isFalse (r.Stdout.Contains '\u001b') "no ANSI escape codes"
            let out = lines r.Stdout
            Expect.exists out (fun l -> l.StartsWith "sft 10/10 (100%)") "SFT's last progress line"
            Expect.exists out (fun l -> l.StartsWith "rl  5/5 (100%)" && l.Contains "reward") "RL's last progress line with its figures"
            Expect.equal (out |> Array.filter (fun l -> l.StartsWith "| problems")).Length 2 "an evaluation table after SFT and after RL"
            Directory.Delete(root, true)
        }
        test "on a terminal the live bars run to the end and the tables print between them (skipped without script)" {
            // script(1) gives the run a pseudo-terminal, as a user's shell would.
            if not (File.Exists "/usr/bin/script") then skiptest "needs /usr/bin/script (util-linux)"
            let root = Path.Combine(Path.GetTempPath(), "klear-cli-" + Guid.NewGuid().ToString("N"))
            let command = String.Join(" ", [ "dotnet"; $"'{Cli.klearDll}'"; "train"; "--output-dir"; root ] @ tinyRun)
            let psi = Diagnostics.ProcessStartInfo("/usr/bin/script", RedirectStandardInput = true, RedirectStandardOutput = true, UseShellExecute = false)
            for a in [ "-qec"; command; "/dev/null" ] do psi.ArgumentList.Add a
            use p = Diagnostics.Process.Start psi
            p.StandardInput.Close()   // no keyboard: script must not read the test runner's terminal
            let screen = p.StandardOutput.ReadToEndAsync()
            Expect.isTrue (p.WaitForExit(TimeSpan.FromMinutes 2.0)) "finished"
            Expect.equal p.ExitCode 0 screen.Result
            Expect.stringContains screen.Result "\u001b[" "drawn with escape codes"
            for fragment in [ "10/10"; "5/5"; "reward" ] do Expect.stringContains screen.Result fragment "the bars' counts and figures"
            Expect.equal (lines screen.Result |> Array.filter (fun l -> l.StartsWith "| problems")).Length 2 "both evaluation tables, on lines of their own"
            Directory.Delete(root, true)
        }
    ]

let private modelBench =
    testList "model bench" [
        test "--preset quickstart --json prints one JSON object: training per second and per CPU-second, peak RSS" {
            let r =
                Cli.run [ "model"; "bench"; "--preset"; "quickstart"; "--json"; "--parts"; "train"; "--batch"; "8"; "--seq"; "16"
                          "--prompt-tokens"; "4"; "--new-tokens"; "4"; "--train-steps"; "1"; "--threads"; "1" ]
            Expect.equal r.ExitCode 0 r.Stderr
            use json = System.Text.Json.JsonDocument.Parse(r.Stdout.Trim())
            let root = json.RootElement
            Expect.isGreaterThan (root.GetProperty("train_tokens_per_s").GetDouble()) 0.0 "training figure"
            Expect.isGreaterThan (root.GetProperty("train_tokens_per_cpu_s").GetDouble()) 0.0 "per CPU-second"
            Expect.isGreaterThan (root.GetProperty("peak_rss_bytes").GetInt64()) (50L <<< 20) "VmHWM of a process that loaded libtorch"
            Expect.equal (root.GetProperty("gen_tokens_per_s").ValueKind) System.Text.Json.JsonValueKind.Null "gen was not asked for"
        }
        test "an unknown preset is a usage error" { expectUsageError [ "model"; "bench"; "--preset"; "tiny" ] "--preset: expected bench or quickstart, got 'tiny'" }
    ]

[<Tests>]
let tests = testSequenced (testList "klear command line" [ help; usageErrors; output; modelBench ])
