/// paper-repro: statistics against hand computations, the decision rule on constructed results, the experiment
/// values against the trainer's config binder, the CLI's usage errors, and the quick pipeline end to end with resume.
module Klear.Tests.PaperReproTests

open System
open System.IO
open Expecto
open PaperRepro
open Klear.Host.Configuration

let private close = { absolute = 1e-6; relative = 1e-6 }

let private tempDir () =
    let d = Path.Combine(Path.GetTempPath(), "paper-repro-test-" + Guid.NewGuid().ToString("N"))
    Directory.CreateDirectory d |> ignore
    d

let statisticsTests =
    testList "statistics" [
        test "mean and sample sd of [1; 2; 3] are 2 and 1" {
            let s = Statistics.summarize [ 1.0; 2.0; 3.0 ]
            Expect.floatClose close s.Mean 2.0 "mean"
            Expect.floatClose close s.Sd 1.0 "sd divides by n - 1"
        }
        test "t(0.975, 2) = 4.302653 and [1; 2; 3] gives 2 ± 2.4842" {
            Expect.floatClose close (Statistics.tQuantile 0.95 2) 4.302653 "Student t quantile"
            let i = Statistics.interval 0.95 [ 1.0; 2.0; 3.0 ]
            Expect.floatClose { absolute = 1e-4; relative = 0.0 } i.HalfWidth 2.4842 "4.302653 / sqrt 3"
            Expect.floatClose close i.Low (2.0 - i.HalfWidth) "low"
            Expect.floatClose close i.High (2.0 + i.HalfWidth) "high"
        }
        test "[0.1; 0.3; 0.2; 0.4]: mean 0.25, sd 0.129099, t(0.975, 3) = 3.182446, half-width 0.205426" {
            let i = Statistics.interval 0.95 [ 0.1; 0.3; 0.2; 0.4 ]
            Expect.floatClose close i.Summary.Sd 0.1290994 "sqrt(0.05 / 3)"
            Expect.floatClose close i.T 3.182446 "t quantile, 3 degrees of freedom"
            Expect.floatClose { absolute = 1e-6; relative = 0.0 } i.HalfWidth 0.205426 "3.182446 * 0.1290994 / 2"
        }
        test "one value has no sd and no interval" {
            let i = Statistics.interval 0.95 [ 0.5 ]
            Expect.isTrue (Double.IsNaN i.Summary.Sd && Double.IsNaN i.Low) "nan, not a made-up width"
            Expect.equal (Statistics.verdict i) Inconclusive "one seed decides nothing"
        }
        test "paired differences pair by seed and flip sign for lower-is-better" {
            let t = Map.ofList [ 1L, 0.5; 2L, 0.7; 3L, 0.9 ]
            let b = Map.ofList [ 1L, 0.4; 3L, 1.0 ]
            Expect.equal (Statistics.pairedDifferences HigherIsBetter t b |> List.map (fun (s, d) -> s, Math.Round(d, 6))) [ 1L, 0.1; 3L, -0.1 ] "seed 2 unpaired"
            Expect.equal (Statistics.pairedDifferences LowerIsBetter t b |> List.map (fun (s, d) -> s, Math.Round(d, 6))) [ 1L, -0.1; 3L, 0.1 ] "flipped"
        }
        test "reduce: final, peak by direction, mean of the last n" {
            let series = [ 0L, 0.2; 10L, 0.6; 20L, 0.4 ]
            let m = Experiments.heldOutFinal
            Expect.equal (Statistics.reduce m series) (Some 0.4) "final"
            Expect.equal (Statistics.reduce { m with Reduce = Peak } series) (Some 0.6) "peak, higher is better"
            Expect.equal (Statistics.reduce { m with Reduce = Peak; Direction = LowerIsBetter } series) (Some 0.2) "peak, lower is better"
            Expect.floatClose close (Statistics.reduce { m with Reduce = MeanOfLast 2 } series).Value 0.5 "mean of 0.6 and 0.4"
            Expect.equal (Statistics.reduce m []) None "no rows, no value"
        }
        test "a claim reproduces only when every comparison does; one contradiction contradicts it" {
            Expect.equal (Statistics.combine [ Reproduced; Reproduced ]) Reproduced "all"
            Expect.equal (Statistics.combine [ Reproduced; Inconclusive ]) Inconclusive "not all"
            Expect.equal (Statistics.combine [ Reproduced; Contradicted ]) Contradicted "any contradiction"
            Expect.equal (Statistics.combine []) Inconclusive "no comparisons"
        }
    ]

/// A two-arm experiment and cells whose final held-out accuracy is given per arm and seed.
let private constructed (treatment: float list) (baseline: float list) =
    let e =
        { Experiments.zeroAdvFilter with
            Name = "constructed"
            Arms = [ { Name = "t"; Overrides = []; Paper = None }; { Name = "b"; Overrides = []; Paper = None } ]
            Comparisons = [ { Treatment = "t"; Baseline = "b" } ] }
    let cell arm seed v : CellResult =
        { Cell = { Experiment = e.Name; Arm = arm; Seed = seed }
          Rows =
            [ { Phase = "eval-rl"; Step = 10L; Values = Map.ofList [ "val/avg@4", v - 0.5 ] }
              { Phase = "eval-rl"; Step = 20L; Values = Map.ofList [ "val/avg@4", v ] } ]
          Final = Map.empty
          GitCommit = "test"
          WallSeconds = 1.0
          Machine = "test CPU, avx2"
          Quick = false }
    let cells =
        (treatment |> List.mapi (fun i v -> cell "t" (int64 (i + 1)) v)) @ (baseline |> List.mapi (fun i v -> cell "b" (int64 (i + 1)) v))
    Summary.summarizeExperiment e cells

let verdictTests =
    testList "decision rule" [
        test "treatment ahead on every seed by 0.1, 0.1, 0.15: interval above 0, reproduced" {
            let s = constructed [ 0.5; 0.6; 0.7 ] [ 0.4; 0.5; 0.55 ]
            let c = s.Comparisons.Head
            Expect.floatClose close c.Interval.Value.Summary.Mean (0.35 / 3.0) "mean difference"
            Expect.isGreaterThan c.Interval.Value.Low 0.0 "interval above 0"
            Expect.equal c.Verdict Reproduced "the paper's direction"
            Expect.equal s.Verdict Reproduced "the claim"
        }
        test "treatment behind on every seed: contradicted" {
            let s = constructed [ 0.4; 0.5; 0.55 ] [ 0.5; 0.6; 0.7 ]
            Expect.equal s.Comparisons.Head.Verdict Contradicted "opposite direction, interval below 0"
            Expect.equal s.Verdict Contradicted "the claim"
        }
        test "differences of both signs: inconclusive" {
            let s = constructed [ 0.5; 0.5; 0.55 ] [ 0.4; 0.6; 0.5 ]
            Expect.equal s.Comparisons.Head.Verdict Inconclusive "interval spans 0"
        }
        test "one seed: inconclusive, and every seed is reported" {
            let s = constructed [ 0.9 ] [ 0.1 ]
            Expect.equal s.Comparisons.Head.Verdict Inconclusive "no interval from one pair"
            Expect.equal (s.Primary |> List.map (fun a -> a.Values)) [ [ 1L, 0.9 ]; [ 1L, 0.1 ] ] "values per arm"
        }
        test "gain over start: the last held-out row minus the evaluation after SFT" {
            let c = (constructed [ 0.45 ] [ 0.4 ]).Cells.Head
            let c = { c with Rows = { Phase = "eval-sft"; Step = 0L; Values = Map.ofList [ "val/avg@4", 0.3 ] } :: c.Rows }
            Expect.floatClose close (Results.value Experiments.regime.Primary c).Value 0.15 "0.45 - 0.3"
            Expect.equal (Results.value Experiments.regime.Primary { c with Rows = List.tail c.Rows }) None "no start, no gain"
        }
        test "a learning curve is the mean and sd over seeds per step, starting from the evaluation after SFT" {
            let s = constructed [ 0.6; 0.8 ] [ 0.5; 0.5 ]
            let start = { Phase = "eval-sft"; Step = 0L; Values = Map.ofList [ "val/avg@4", 0.1 ] }
            let cells = s.Cells |> List.filter (fun c -> c.Cell.Arm = "t") |> List.map (fun c -> { c with Rows = start :: c.Rows })
            let pts = Chart.curve { Experiments.heldOutFinal with Reduce = Final } cells
            Expect.equal (pts |> List.map (fun (step, _, _) -> step)) [ 0L; 10L; 20L ] "steps, SFT first"
            let _, m20, sd20 = pts.[2]
            Expect.floatClose close m20 0.7 "mean of 0.6 and 0.8"
            Expect.floatClose close sd20 (sqrt 0.02) "sd of 0.6 and 0.8"
            let _, m0, sd0 = pts.[0]
            Expect.floatClose close m0 0.1 "the shared start"
            Expect.floatClose close sd0 0.0 "no spread at the start"
        }
        test "the table shows the paper's and our numbers and the interval" {
            let md = Report.tableMd (tempDir ()) (constructed [ 0.5; 0.6; 0.7 ] [ 0.4; 0.5; 0.55 ])
            Expect.stringContains md "0.6000 ± 0.1000" "treatment mean ± sd"
            Expect.stringContains md "CPU: test CPU, avx2 (6)" "the CPU kind of every cell"
            Expect.stringContains md "s1 +0.1000, s2 +0.1000, s3 +0.1500" "every paired difference"
            Expect.stringContains md "**reproduced**" "verdict"
            Expect.stringContains md "0.810 (85)" "the paper's own table"
            Expect.isFalse (md.Contains "Discussion") "no discussion.md, no discussion"
        }
        test "a discussion written against another cell count says the text may be behind the tables" {
            let s = constructed [ 0.5; 0.6; 0.7 ] [ 0.4; 0.5; 0.55 ]
            let dir = tempDir ()
            Directory.CreateDirectory(Path.Combine(dir, s.Experiment.Name)) |> ignore
            let write (t: string) = File.WriteAllText(Path.Combine(dir, s.Experiment.Name, "discussion.md"), t)
            write "<!-- cells: 6 -->\nThe treatment leads on every seed."
            let current = Report.tableMd dir s
            Expect.stringContains current "The treatment leads on every seed." "the text is included"
            Expect.isFalse (current.Contains "may be behind") "written against all 6 cells: no notice"
            write "<!-- cells: 4 -->\nThe treatment leads on every seed."
            Expect.stringContains (Report.tableMd dir s) "Written when 4 cells were in; 6 are now" "stale notice"
            write "The treatment leads."
            Expect.stringContains (Report.tableMd dir s) "unstated number of cells" "no count line: said so"
        }
    ]

/// Settings for binding checks only: `{data}` must resolve before klear's binder sees a value.
let private paths: Runner.Settings =
    { Results = "/r"; Work = "/w"; Jobs = 1; Force = false; Quick = false; Klear = ""; GitCommit = ""; Log = TextWriter.Null }

let private bind args = ConfigBinder.Bind<RunConfig>(null, Runner.substitute paths args)

let experimentTests =
    testList "experiment values" [
        test "every cell on the built-in task passes the trainer's own checks (TrainingRun's constructor)" {
            for e in Experiments.everything |> List.filter (fun e -> e.Runnable = Runnable && e.Prepare.IsEmpty) do
                for c in Experiment.cells e |> List.filter (fun c -> c.Seed = e.Seeds.Head) do
                    try Klear.Host.Training.TrainingRun(bind (Runner.cellArgs e c), TextWriter.Null) |> ignore
                    with ex -> failtestf "%s/%s: %s" e.Name (Cell.id c) ex.Message
                match e.Kind with
                | RlFrom r -> Klear.Host.Training.TrainingRun(bind (Runner.sftArgs r 1L), TextWriter.Null) |> ignore
                | SftOnly -> ()
        }
        test "code-reward's files resolve into the work folder" {
            let c = bind (Runner.cellArgs Experiments.codeReward { Experiment = "code-reward"; Arm = "hard"; Seed = 1L })
            Expect.equal c.Data.ValFiles "/w/data/synthetic-code/val.jsonl" "{data} = WORK/data"
            Expect.equal c.Reward.CodeMode "hard" "the arm"
            Expect.equal c.Sft.Steps 0 "RL from the shared SFT"
        }
        test "the eight experiments of the paper (objectives in two regimes), with unique names and valid arms" {
            Expect.equal (Experiments.all |> List.map _.Name)
                [ "objectives"; "objectives-clipping"; "beta"; "sft-alpha"; "zero-adv-filter"; "code-reward"; "code-test-filter"; "sft-correctness"; "sft-sources" ] "names"
            for e in Experiments.all do
                Expect.equal (Experiment.validate e) [] e.Name
        }
        test "every runnable cell's overrides bind onto klear's config, and arms differ" {
            for e in Experiments.all |> List.filter (fun e -> e.Runnable = Runnable) do
                for c in Experiment.cells e do
                    bind (Runner.cellArgs e c @ [ "model.path=/nonexistent" ]) |> ignore
                let configs = e.Arms |> List.map (fun a -> ConfigBinder.ToYaml(bind (Runner.cellArgs e { Experiment = e.Name; Arm = a.Name; Seed = 1L })))
                Expect.equal (List.distinct configs).Length configs.Length (sprintf "%s: every arm resolves to its own config" e.Name)
        }
        test "SFT recipes bind too; the RL experiments on the built-in task share one SFT run per seed" {
            let s: Runner.Settings =
                { Results = "r"; Work = "w"; Jobs = 1; Force = false; Quick = false; Klear = ""; GitCommit = ""; Log = TextWriter.Null }
            let sftOf (e: Experiment) = match e.Kind with RlFrom r -> Some r | SftOnly -> None
            for r in Experiments.everything |> List.choose sftOf do bind (Runner.sftArgs r 1L) |> ignore
            let dirs = [ Experiments.objectives; Experiments.beta; Experiments.sftAlpha; Experiments.zeroAdvFilter ] |> List.map (fun e -> Runner.sftDir s (sftOf e).Value 1L)
            Expect.equal (List.distinct dirs).Length 1 "one SFT run for seed 1"
            Expect.notEqual (Runner.sftDir s (sftOf (Experiments.quick Experiments.objectives)).Value 1L) dirs.Head "a quick SFT is never mistaken for the real one"
            Expect.notEqual (Runner.sftDir s Experiments.quickstartSft 2L) dirs.Head "one per seed"
        }
        test "the sft-correctness arms: only-correct teachers never slip, mixed ones do; difficulty by operand count" {
            let bind arm = ConfigBinder.Bind<RunConfig>(null, Runner.cellArgs Experiments.sftCorrectness { Experiment = "sft-correctness"; Arm = arm; Seed = 1L })
            Expect.equal (bind "easy-only-correct").Data.Teachers.[0].WrongShare 0.0 "only correct"
            Expect.equal (bind "hard-mixed").Data.Teachers.[0].WrongShare 0.4 "mixed"
            Expect.equal ((bind "hard-mixed").Data.SftOperands.Keys |> List.ofSeq) [ 4; 5 ] "hard"
            Expect.equal (bind "easy-mixed").Trainer.Steps 0 "SFT only"
            let top4 = ConfigBinder.Bind<RunConfig>(null, Runner.cellArgs Experiments.sftSources { Experiment = "sft-sources"; Arm = "top4"; Seed = 1L })
            Expect.equal (top4.Data.Teachers |> Seq.map _.WrongShare |> List.ofSeq) [ 0.02; 0.05; 0.1; 0.15 ] "the four best sources"
        }
        test "every experiment of the paper is runnable" {
            let missing = Experiments.all |> List.choose (fun e -> match e.Runnable with NotRunnable why -> Some(e.Name, why) | Runnable -> None)
            Expect.equal missing [] "none missing"
        }
        test "code-test-filter: arms train on the filtered and on the whole corrupted file; held-out data clean; one fixed reference at seed 0" {
            let e = Experiments.codeTestFilter
            let cfg arm = bind (Runner.cellArgs e { Experiment = e.Name; Arm = arm; Seed = 1L })
            Expect.equal (cfg "filtered").Data.TrainFiles "/w/data/synthetic-code/train-wrong30-pass16.jsonl" "filtered"
            Expect.equal (cfg "unfiltered").Data.TrainFiles "/w/data/synthetic-code/train-wrong30.jsonl" "unfiltered"
            for arm in [ "filtered"; "unfiltered" ] do
                Expect.equal (cfg arm).Data.ValFiles "/w/data/synthetic-code/val.jsonl" "clean held-out problems"
                Expect.equal (cfg arm).Trainer.Steps (cfg "filtered").Trainer.Steps "the same RL steps"
            let step output = e.Prepare |> List.find (fun p -> p.Output = output)
            let generate, filter, valData = step "synthetic-code/train-wrong30.jsonl", step "synthetic-code/train-wrong30-pass16.jsonl", step "synthetic-code/val.jsonl"
            let after flag (args: string list) = args.[List.findIndex ((=) flag) args + 1]
            Expect.equal (after "--wrong-tests-share" generate.Arguments) "0.3" "30% of training problems with wrong tests"
            Expect.isFalse (List.contains "--wrong-tests-share" valData.Arguments) "the held-out file is clean"
            Expect.equal (after "--seed" generate.Arguments) (after "--seed" (step "synthetic-code/train.jsonl").Arguments) "the problems the SFT saw"
            Expect.equal (after "--k" filter.Arguments, after "--min" filter.Arguments) ("16", "0.5") "the paper's rule"
            Expect.equal (after "--files" filter.Arguments) "{data}/synthetic-code/train-wrong30.jsonl" "filters the corrupted file"
            Expect.equal filter.Needs (Some { Recipe = Experiments.codeSft; Seed = 0L }) "the code SFT at seed 0"
            Expect.isFalse (List.contains 0L e.Seeds) "seed 0 is never an experiment seed"
            Expect.isTrue filter.Summary "its summary is stored with the results"
            Expect.equal (Experiment.prepareMinutes [ e ]) filter.Minutes "the filter's cost is in the estimate"
            // The filter's own klear settings bind like a cell's.
            bind (filter.Arguments |> List.filter (fun a -> a.Contains '=')) |> ignore
            let q = Experiments.quick e
            let qf = q.Prepare |> List.find (fun p -> p.Output = filter.Output)
            Expect.equal qf.Needs (Some { Recipe = (match q.Kind with RlFrom r -> r | SftOnly -> failwith "RL"); Seed = 0L }) "quick: the quick SFT at seed 0"
            Expect.equal (after "--k" qf.Arguments) "2" "quick: a few samples"
        }
    ]

let cliTests =
    testList "cli" [
        test "usage errors exit 2: no experiment, an unknown one, a bad option" {
            for args in [ [| "run" |]; [| "run"; "nope" |]; [| "run"; "beta"; "--jobs"; "0" |]; [| "frobnicate" |] ] do
                Expect.equal (Program.main' args) 2 (String.Join(" ", args))
        }
        test "list names every experiment with its claim, seeds and estimate" {
            use w = new StringWriter()
            Program.listExperiments w
            let text = w.ToString()
            for e in Experiments.all do Expect.stringContains text e.Name e.Name
            Expect.stringContains text "min with 2 jobs" "time estimate"
            Expect.stringContains text "of data preparation" "the filter's cost is listed"
        }
    ]

let private settings root : Runner.Settings =
    { Results = Path.Combine(root, "results")
      Work = Path.Combine(root, "work")
      Jobs = 2
      Force = false
      Quick = true
      Klear = Runner.defaultKlear ()
      GitCommit = "test"
      Log = TextWriter.Null }

let private snapshot dir =
    Directory.GetFiles(dir, "*", SearchOption.AllDirectories)
    |> Array.sort
    |> Array.map (fun f -> Path.GetRelativePath(dir, f), File.ReadAllBytes f)

let private actions (outcomes: Runner.Outcome list) =
    outcomes |> List.map (fun o -> o.Name, o.Action, o.Error)

let pipelineTests =
    testSequenced <| testList "quick pipeline (slow: runs klear)" [
        test "zero-adv-filter --quick: SFT once, both cells stored, report rebuilt byte for byte, finished cells never re-run, an interrupted one resumes" {
            let root = tempDir ()
            let s = settings root
            let e = Experiments.quick Experiments.zeroAdvFilter
            let first = Runner.run s [ e ]
            Expect.equal (actions first)
                [ "sft quickstart seed 1", Runner.Started, None
                  "zero-adv-filter/filter__s1", Runner.Started, None
                  "zero-adv-filter/no-filter__s1", Runner.Started, None ] "first run"
            Report.writeAll s.Results false TextWriter.Null Experiments.all |> ignore
            let dir = Path.Combine(s.Results, "zero-adv-filter")
            for f in [ "summary.json"; "table.md"; "chart.html"; "cells/filter__s1/metrics.jsonl"; "cells/filter__s1/config.yaml"; "cells/no-filter__s1/cell.json" ] do
                Expect.isTrue (File.Exists(Path.Combine(dir, f))) f
            Expect.stringContains (File.ReadAllText(Path.Combine(dir, "chart.html"))) "Plotly.newPlot" "a Plotly chart"
            // Offline without 3.6 MB per chart: the page loads the one plotly.js copy written beside the experiments.
            let html = File.ReadAllText(Path.Combine(dir, "chart.html"))
            Expect.stringContains html "src=\"../plotly.min.js\"" "the shared plotly.js"
            Expect.isLessThan (FileInfo(Path.Combine(dir, "chart.html"))).Length 200_000L "plotly.js not inlined"
            let plotly = Path.Combine(s.Results, "plotly.min.js")
            Expect.isGreaterThan (FileInfo plotly).Length 1_000_000L "plotly.js itself, written once"
            Expect.stringContains (File.ReadAllText plotly) "newPlot" "it is plotly.js"
            Expect.isTrue (File.Exists(Path.Combine(s.Results, "RESULTS.md"))) "RESULTS.md inside a results folder given with --out"
            let rows = Results.readRows (Path.Combine(dir, "cells/filter__s1/metrics.jsonl"))
            Expect.equal (rows |> List.filter (fun r -> r.Phase = "rl") |> List.length) 2 "two RL steps"
            Expect.isTrue (rows |> List.exists (fun r -> r.Phase = "eval-sft")) "the start point"
            let written = snapshot s.Results
            Report.writeAll s.Results false TextWriter.Null Experiments.all |> ignore
            Expect.sequenceEqual (snapshot s.Results) written "report from stored results is byte-identical"

            let again = Runner.run s [ e ]
            Expect.isTrue (again |> List.forall (fun o -> o.Action = Runner.Cached && o.Error.IsNone)) (sprintf "nothing re-runs: %A" (actions again))

            // Simulated kill: no-filter's results were never stored and its run stopped after RL step 1's checkpoint.
            Directory.Delete(Path.Combine(dir, "cells", "no-filter__s1"), true)
            let runDir = Directory.GetDirectories(Path.Combine(s.Work, "cells", "zero-adv-filter", "no-filter__s1")) |> Array.exactlyOne
            File.Delete(Path.Combine(runDir, "report.json"))
            Expect.isTrue (Directory.Exists(Path.Combine(runDir, "checkpoints", "rl-step-000001"))) "the step-1 checkpoint"
            File.WriteAllText(Path.Combine(runDir, "checkpoints", "latest"), "rl-step-000001")
            let filterInfo = File.ReadAllBytes(Path.Combine(dir, "cells", "filter__s1", "cell.json"))
            let resumed = Runner.run s [ e ]
            Expect.equal (actions resumed)
                [ "sft quickstart seed 1", Runner.Cached, None
                  "zero-adv-filter/filter__s1", Runner.Cached, None
                  "zero-adv-filter/no-filter__s1", Runner.Resumed, None ] "only the interrupted cell runs"
            Expect.sequenceEqual (File.ReadAllBytes(Path.Combine(dir, "cells", "filter__s1", "cell.json"))) filterInfo "the finished cell is untouched"
            let rows = Results.readRows (Path.Combine(dir, "cells/no-filter__s1/metrics.jsonl"))
            Expect.equal (rows |> List.filter (fun r -> r.Phase = "rl") |> List.map _.Step) [ 0L; 1L ] "one uninterrupted log"

            // A run that finished but was not yet copied is collected, not run again.
            Directory.Delete(Path.Combine(dir, "cells", "filter__s1"), true)
            let collected = Runner.run s [ e ]
            Expect.equal (actions collected |> List.map (fun (n, a, _) -> n, a))
                [ "sft quickstart seed 1", Runner.Cached; "zero-adv-filter/filter__s1", Runner.Collected; "zero-adv-filter/no-filter__s1", Runner.Cached ] "collected"

            // An edited experiment is another experiment: a changed SFT recipe re-runs SFT and every cell built on it.
            let edited = { e with Kind = match e.Kind with RlFrom r -> RlFrom { r with Overrides = r.Overrides @ [ "sft.lr=1e-3" ] } | k -> k }
            Expect.equal (Runner.run s [ edited ] |> List.map (fun o -> o.Name, o.Action))
                [ "sft quickstart seed 1", Runner.Started; "zero-adv-filter/filter__s1", Runner.Started; "zero-adv-filter/no-filter__s1", Runner.Started ] "stale cells run again"
            Directory.Delete(root, true)
        }
        test "code-reward --quick: its data is written once, {data} resolves at launch and stays a placeholder in the results" {
            let root = tempDir ()
            let s = settings root
            let e = Experiments.quick Experiments.codeReward
            let first = Runner.run s [ e ]
            Expect.equal (actions first |> List.map (fun (n, a, err) -> n, a, err))
                [ "data synthetic-code/train.jsonl", Runner.Started, None
                  "data synthetic-code/val.jsonl", Runner.Started, None
                  "sft synthetic-code seed 1", Runner.Started, None
                  "code-reward/soft__s1", Runner.Started, None
                  "code-reward/hard__s1", Runner.Started, None ] "first run"
            Expect.equal (File.ReadLines(Path.Combine(Runner.dataDir s, "synthetic-code", "train.jsonl")) |> Seq.length) 2000 "2,000 training problems"
            let cell = Path.Combine(s.Results, "code-reward", "cells", "soft__s1")
            Expect.contains (Results.readArguments cell) "data.val_files={data}/synthetic-code/val.jsonl" "machine-independent arguments"
            Expect.stringContains (File.ReadAllText(Path.Combine(cell, "config.yaml"))) (Path.Combine(Runner.dataDir s, "synthetic-code", "val.jsonl")) "the run read the prepared file"
            Expect.isTrue (Runner.run s [ e ] |> List.forall (fun o -> o.Action = Runner.Cached)) "nothing runs twice"
            Directory.Delete(root, true)
        }
        test "a prepared file is made once per key: cached when unchanged, made again when edited or keyless; a missing SFT is named" {
            let root = tempDir ()
            let s = { settings root with Quick = false }
            let step = PrepareStep.write "x/a.jsonl" [ "data"; "synthetic-code"; "--out"; "{out}"; "--count"; "3" ]
            let file = Path.Combine(Runner.dataDir s, "x", "a.jsonl")
            Expect.equal (Runner.prepare s step).Action Runner.Started "first"
            Expect.equal (File.ReadLines file |> Seq.length) 3 "written"
            Expect.equal (Runner.prepare s step) { Name = "data x/a.jsonl"; Action = Runner.Cached; Error = None } "unchanged: cached"
            let edited = { step with Arguments = [ "data"; "synthetic-code"; "--out"; "{out}"; "--count"; "4" ] }
            Expect.equal (Runner.prepare s edited).Action Runner.Started "edited: made again"
            Expect.equal (File.ReadLines file |> Seq.length) 4 "the edited file"
            File.Delete(Path.Combine(Runner.dataDir s, "x", ".a.jsonl.key"))
            Expect.equal (Runner.prepare s edited).Action Runner.Started "a file without its key (an older program's) is made again"
            let needing = { step with Output = "x/b.jsonl"; Needs = Some { Recipe = { Name = "nothing"; Overrides = [] }; Seed = 0L } }
            let o = Runner.prepare s needing
            Expect.stringContains o.Error.Value "SFT run nothing, seed 0" "the SFT it needs"
            Expect.isFalse (File.Exists(Path.Combine(Runner.dataDir s, "x", "b.jsonl"))) "nothing written"
            Expect.notEqual (Runner.dataDir { s with Quick = true }) (Runner.dataDir s) "quick data never stands in for the real data"
            Directory.Delete(root, true)
        }
        test "code-test-filter --quick: the reference SFT (seed 0) runs first, the filter reads it, its summary reaches the table" {
            let root = tempDir ()
            let s = settings root
            let e = Experiments.quick Experiments.codeTestFilter
            let first = Runner.run s [ e ]
            Expect.equal (actions first)
                [ "data synthetic-code/train.jsonl", Runner.Started, None
                  "data synthetic-code/val.jsonl", Runner.Started, None
                  "data synthetic-code/train-wrong30.jsonl", Runner.Started, None
                  "sft synthetic-code seed 0", Runner.Started, None
                  "data synthetic-code/train-wrong30-pass16.jsonl", Runner.Started, None
                  "sft synthetic-code seed 1", Runner.Started, None
                  "code-test-filter/filtered__s1", Runner.Started, None
                  "code-test-filter/unfiltered__s1", Runner.Started, None ] "first run"
            let log = File.ReadAllText(Path.Combine(Runner.dataDir s, "prepare.log"))
            let reference = Runner.sftDir s (match e.Kind with RlFrom r -> r | SftOnly -> failwith "RL") 0L
            Expect.stringContains log ("filter-pass-rate --model " + reference) "the filter read the seed-0 SFT"
            let stored = Path.Combine(s.Results, "code-test-filter", "data", "train-wrong30-pass16.summary.json")
            let summary = System.Text.Json.Nodes.JsonNode.Parse(File.ReadAllText stored)
            Expect.equal (summary["rows"].GetValue<int>(), summary["wrong_tests_rows"].GetValue<int>()) (64, 19) "64 rows, round(0.3 × 64) with wrong tests"
            Expect.stringStarts (summary["model"].GetValue<string>()) "{work}/sft/synthetic-code-" "no machine path in the results"
            Expect.isFalse ((File.ReadAllText stored).Contains root) "nothing of this machine's folders"
            let filtered = Path.Combine(s.Results, "code-test-filter", "cells", "filtered__s1")
            Expect.contains (Results.readArguments filtered) "data.train_files={data}/synthetic-code/train-wrong30-pass16.jsonl" "the filtered arm"
            Report.writeAll s.Results false TextWriter.Null Experiments.all |> ignore
            let table = File.ReadAllText(Path.Combine(s.Results, "code-test-filter", "table.md"))
            Expect.stringContains table "Data preparation, `train-wrong30-pass16.summary.json`" "the filter in the table"
            Expect.stringContains table "| wrong_tests_rows | 19 |" "its counts"
            Expect.isTrue (Runner.run s [ e ] |> List.forall (fun o -> o.Action = Runner.Cached)) "nothing runs twice"
            // A clean machine: the work folder (checkpoints, prepared data) is gone, the committed results are not.
            let filteredFile = Path.Combine(Runner.dataDir s, "synthetic-code", "train-wrong30-pass16.jsonl")
            let original = File.ReadAllBytes filteredFile
            let rows = Path.Combine(s.Results, "code-test-filter", "data", "train-wrong30-pass16.rows.json")
            let storedRows = System.Text.Json.Nodes.JsonNode.Parse(File.ReadAllText rows)
            let kept = storedRows["kept"].AsArray().Count
            Expect.equal kept (File.ReadAllLines filteredFile).Length "one line number per kept row"
            Directory.Delete(s.Work, true)
            Directory.Delete(filtered, true)
            Expect.equal (actions (Runner.run s [ e ]))
                [ "data synthetic-code/train.jsonl", Runner.Started, None
                  "data synthetic-code/val.jsonl", Runner.Started, None
                  "data synthetic-code/train-wrong30.jsonl", Runner.Started, None
                  "data synthetic-code/train-wrong30-pass16.jsonl", Runner.Restored, None
                  "sft synthetic-code seed 1", Runner.Started, None
                  "code-test-filter/filtered__s1", Runner.Started, None
                  "code-test-filter/unfiltered__s1", Runner.Cached, None ] "no reference SFT, no sampling: the filter comes back from its line numbers"
            Expect.equal (File.ReadAllBytes filteredFile) original "the same bytes as the filter wrote"
            // Stored rows that rebuild other bytes are refused by name, and nothing reads a half-made file.
            let tampered = System.Text.Json.Nodes.JsonNode.Parse(File.ReadAllText rows)
            tampered["output_sha256"] <- System.Text.Json.Nodes.JsonValue.Create "0"
            File.WriteAllText(rows, tampered.ToJsonString())
            Directory.Delete(s.Work, true)
            Directory.Delete(filtered, true)
            let refused = Runner.run s [ e ] |> List.find (fun o -> o.Name = "data synthetic-code/train-wrong30-pass16.jsonl")
            Expect.stringContains refused.Error.Value "other bytes than the original" "refused"
            Expect.isFalse (File.Exists filteredFile) "no file from bad rows"
            Directory.Delete(root, true)
        }
        test "run all --quick through the command line: every runnable experiment writes its files and RESULTS.md lists it" {
            let root = tempDir ()
            let results = Path.Combine(root, "results")
            let code = Program.main' [| "run"; "all"; "--quick"; "--jobs"; "2"; "--out"; results; "--work"; Path.Combine(root, "work"); "--no-png" |]
            Expect.equal code 0 "run all --quick"
            let md = File.ReadAllText(Path.Combine(results, "RESULTS.md"))
            for e in Experiments.all do
                match e.Runnable with
                | NotRunnable _ -> Expect.stringContains md $"| [{e.Name}](#{e.Name})" $"{e.Name} listed"
                | Runnable ->
                    for f in [ "summary.json"; "table.md"; "chart.html" ] do
                        Expect.isTrue (File.Exists(Path.Combine(results, e.Name, f))) $"{e.Name}/{f}"
                    Expect.isNonEmpty (Directory.GetDirectories(Path.Combine(results, e.Name, "cells"))) $"{e.Name} cells"
            Expect.stringContains md "(quick run)" "quick runs are marked as such"
            Directory.Delete(root, true)
        }
    ]

let schedulerTests =
    testList "scheduler" [
        test "a cell starts once its own SFT run is done, while another SFT run still runs (no barrier between them)" {
            // Task 1 (the second SFT run) can only finish after task 2 (a cell needing task 0) has run: with a barrier
            // after the SFT runs this would never finish, so the wait is bounded and its expiry is the failure.
            use cellRan = new System.Threading.ManualResetEventSlim(false)
            let order = System.Collections.Concurrent.ConcurrentQueue<string>()
            let mutable waitedOk = false
            Runner.schedule 2
                [ [], (fun () -> order.Enqueue "sft s1")
                  [], (fun () -> waitedOk <- cellRan.Wait(TimeSpan.FromSeconds 20.0); order.Enqueue "sft s2")
                  [ 0 ], (fun () -> order.Enqueue "cell s1"; cellRan.Set())
                  [ 1 ], (fun () -> order.Enqueue "cell s2") ]
            Expect.isTrue waitedOk "the s1 cell ran while the s2 SFT run was still running"
            Expect.equal (List.ofSeq order) [ "sft s1"; "cell s1"; "sft s2"; "cell s2" ] "each cell after its own SFT run"
        }
        test "one job runs the tasks in list order; a task that throws still lets the others run, then the error surfaces" {
            let order = System.Collections.Concurrent.ConcurrentQueue<int>()
            let ex =
                Expect.throwsC (fun () ->
                    Runner.schedule 1 [ [], (fun () -> order.Enqueue 0); [], (fun () -> failwith "boom"); [ 1 ], (fun () -> order.Enqueue 2) ]) id
            Expect.stringContains (ex.ToString()) "boom" "the task's error"
            Expect.equal (List.ofSeq order) [ 0; 2 ] "in order, the failed task's dependant still ran (its own checks report the failure)"
        }
    ]

[<Tests>]
let tests = testList "paper-repro" [ statisticsTests; verdictTests; experimentTests; cliTests; pipelineTests; schedulerTests ]
