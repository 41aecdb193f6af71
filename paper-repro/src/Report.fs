/// Everything `report` writes, from the stored cells alone: per experiment summary.json, table.md, chart.html (and
/// chart.png with chromium), and RESULTS.md over all experiments. Nothing here reads the clock or the work folder,
/// so the same results give the same bytes.
module PaperRepro.Report

open System
open System.IO
open System.Text
open System.Text.Json
open System.Text.Json.Nodes
open PaperRepro.Summary

let private num (x: float) : JsonNode = if Double.IsFinite x then JsonValue.Create x else null
let private str (s: string) : JsonNode = JsonValue.Create s
let private arr (xs: JsonNode seq) = JsonArray(Array.ofSeq xs)

let private obj (pairs: (string * JsonNode) list) =
    let o = JsonObject()
    for k, v in pairs do o[k] <- v
    o :> JsonNode

let private reduceName =
    function
    | Final -> "final"
    | Peak -> "peak"
    | MeanOfLast n when n >= 100000 -> "mean over the run"
    | MeanOfLast n -> sprintf "mean of the last %d" n
    | GainOverStart -> "final minus the evaluation after SFT"

let private metricJson (m: Metric) =
    obj [ "label", str m.Label; "phase", str m.Phase; "key", str m.Key; "reduce", str (reduceName m.Reduce)
          "direction", str (match m.Direction with HigherIsBetter -> "higher is better" | LowerIsBetter -> "lower is better") ]

let private armJson (a: ArmStats) =
    obj [ "arm", str a.Arm.Name
          "paper", (match a.Arm.Paper with Some p -> num p | None -> null)
          "n", JsonValue.Create(a.Values.Length)
          "mean", (match a.Summary with Some s -> num s.Mean | None -> null)
          "sd", (match a.Summary with Some s -> num s.Sd | None -> null)
          "seeds", arr [ for s, v in a.Values -> obj [ "seed", JsonValue.Create s; "value", num v ] ]
          "missing_seeds", arr [ for s in a.Missing -> JsonValue.Create s ] ]

/// The experiment's data-preparation summaries (file name, JSON), e.g. what a pass-rate filter kept.
type Prepared = (string * JsonObject) list

let summaryJsonWith (prepared: Prepared) (s: ExperimentSummary) =
    let e = s.Experiment
    obj [ "name", str e.Name
          "paper_ref", str e.PaperRef
          "claim", str e.Claim
          "paper_metric", str e.PaperMetric
          "quick", JsonValue.Create s.Quick
          "verdict", str (Verdict.name s.Verdict)
          "decision_rule", str (sprintf "paired t-interval at %g%%, positive = the paper's direction" (100.0 * e.Rule.Confidence))
          "primary", metricJson e.Primary
          "arms", arr (s.Primary |> List.map armJson)
          "comparisons",
          arr [ for c in s.Comparisons ->
                    obj [ "treatment", str c.Comparison.Treatment
                          "baseline", str c.Comparison.Baseline
                          "differences", arr [ for seed, d in c.Differences -> obj [ "seed", JsonValue.Create seed; "value", num d ] ]
                          "mean", (match c.Interval with Some i -> num i.Summary.Mean | None -> null)
                          "sd", (match c.Interval with Some i -> num i.Summary.Sd | None -> null)
                          "t", (match c.Interval with Some i -> num i.T | None -> null)
                          "low", (match c.Interval with Some i -> num i.Low | None -> null)
                          "high", (match c.Interval with Some i -> num i.High | None -> null)
                          "verdict", str (Verdict.name c.Verdict) ] ]
          "secondary", arr [ for m, arms in s.Secondary -> obj [ "metric", metricJson m; "arms", arr (arms |> List.map armJson) ] ]
          "git_commits", arr [ for c in s.Commits -> str c ]
          "cell_seconds", num (Math.Round(s.CellSeconds, 1))
          "machines", arr [ for m, n in s.Machines -> obj [ "cpu", str m; "cells", JsonValue.Create n ] ]
          if not prepared.IsEmpty then "prepared", obj [ for name, o in prepared -> name, o.DeepClone() ] ]

let summaryJson (s: ExperimentSummary) = summaryJsonWith [] s

let private f4 (x: float) = if Double.IsFinite x then x.ToString("0.0000", Globalization.CultureInfo.InvariantCulture) else "–"
let private f3 (x: float) = if Double.IsFinite x then x.ToString("0.000", Globalization.CultureInfo.InvariantCulture) else "–"

let private meanSd (a: ArmStats) =
    match a.Summary with
    | Some s when s.N > 1 -> sprintf "%s ± %s" (f4 s.Mean) (f4 s.Sd)
    | Some s -> f4 s.Mean
    | None -> "–"

let private seedsText (a: ArmStats) =
    String.Join(", ", [ for seed, v in a.Values -> sprintf "s%d %s" seed (f4 v) ] @ [ for seed in a.Missing -> sprintf "s%d missing" seed ])

let private paperValue (a: Arm) =
    match a.Paper with
    | Some p -> p.ToString((if abs p >= 1.0 then "0.00" else "0.000"), Globalization.CultureInfo.InvariantCulture)
    | None -> "–"

/// The comparisons as markdown rows: paired difference mean, 95% interval, verdict.
let comparisonsTable (s: ExperimentSummary) =
    let sb = StringBuilder()
    sb.AppendLine("| paper says | paired Δ per seed | mean Δ ± sd | 95% interval | verdict |").AppendLine("|---|---|---|---|---|") |> ignore
    for c in s.Comparisons do
        let diffs = String.Join(", ", [ for seed, d in c.Differences -> sprintf "s%d %+.4f" seed d ])
        let m, i =
            match c.Interval with
            | Some i when i.Summary.N > 1 -> sprintf "%+.4f ± %s" i.Summary.Mean (f4 i.Summary.Sd), sprintf "[%+.4f, %+.4f]" i.Low i.High
            | Some i -> sprintf "%+.4f" i.Summary.Mean, "needs ≥ 2 seeds"
            | None -> "–", "no paired seeds"
        sb.AppendLine(sprintf "| %s beats %s | %s | %s | %s | **%s** |" c.Comparison.Treatment c.Comparison.Baseline diffs m i (Verdict.name c.Verdict)) |> ignore
    sb.ToString()

/// The other metrics (clip fractions, GPPO's preserved-gradient share, training reward, ...) per arm.
let secondaryTable (s: ExperimentSummary) =
    let e = s.Experiment
    let sb = StringBuilder()
    sb.AppendLine("Other metrics (mean ± sd over seeds):").AppendLine() |> ignore
    sb.AppendLine("| metric | " + String.Join(" | ", e.Arms |> List.map _.Name) + " |") |> ignore
    sb.AppendLine("|---|" + String.replicate e.Arms.Length "---|") |> ignore
    for m, arms in s.Secondary do
        sb.AppendLine(sprintf "| %s | %s |" m.Label (String.Join(" | ", arms |> List.map meanSd))) |> ignore
    sb.ToString()

/// Cell count, their summed run time and the CPUs they ran on (figures differ between CPU kinds).
let runLine (s: ExperimentSummary) =
    let machines = String.Join("; ", [ for m, n in s.Machines -> sprintf "%s (%d)" m n ])
    sprintf "Cells: %d; their run time: %.0f s (%.1f h of one core); CPU: %s; commits: %s."
        s.Cells.Length s.CellSeconds (s.CellSeconds / 3600.0) machines (String.Join(", ", s.Commits))

/// The experiment's discussion.md, written by a person after the results were in, if there is one. Its first line may
/// be `<!-- cells: N -->`, the cell count it was written against; a different count now gets a notice, so a reader
/// knows the text may be behind the tables.
let discussion (resultsDir: string) (s: ExperimentSummary) =
    let path = Path.Combine(resultsDir, s.Experiment.Name, "discussion.md")
    if not (File.Exists path) then None
    else
        let text = File.ReadAllText(path).Replace("\r\n", "\n").Trim()
        let m = RegularExpressions.Regex.Match(text, @"^<!--\s*cells:\s*(\d+)\s*-->\s*")
        let body = if m.Success then text.Substring(m.Length) else text
        let stale =
            match m.Success with
            | true when int m.Groups[1].Value <> s.Cells.Length ->
                sprintf "\n\n_Written when %s cells were in; %d are now: the text may be behind the tables._" m.Groups[1].Value s.Cells.Length
            | true -> ""
            | false -> "\n\n_Written against an unstated number of cells._"
        Some("Discussion (written after the results were in; everything else here is generated):\n\n" + body + stale)

/// Each preparation summary as a field | value table (nested values as JSON text).
let preparedMd (prepared: Prepared) =
    let sb = StringBuilder()
    for name, o in prepared do
        sb.AppendLine(sprintf "Data preparation, `%s`:" name).AppendLine().AppendLine("| field | value |").AppendLine("|---|---|") |> ignore
        for KeyValue(k, v) in o do
            let text =
                match v with
                | null -> "–"
                | :? JsonValue as jv when jv.GetValueKind() = JsonValueKind.String -> jv.GetValue<string>()
                | v -> v.ToJsonString()
            sb.AppendLine(sprintf "| %s | %s |" k (text.Replace("|", "\\|"))) |> ignore
        sb.AppendLine() |> ignore
    sb.ToString()

let tableMdWith (resultsDir: string) (prepared: Prepared) (s: ExperimentSummary) =
    let e = s.Experiment
    let sb = StringBuilder()
    let line (t: string) = sb.AppendLine t |> ignore
    line (sprintf "# %s (%s)" e.Name e.PaperRef)
    line ""
    line (sprintf "Claim: %s" e.Claim)
    line ""
    if s.Quick then
        line "**Quick run (`--quick`): tiny sizes, one seed; it checks the pipeline and its numbers mean nothing.**"
        line ""
    if e.Comparisons.IsEmpty then line "Calibration: no comparisons, no verdict."
    else line (sprintf "Verdict: **%s** (every comparison below must reproduce; one contradiction contradicts)." (Verdict.name s.Verdict))
    line ""
    line (sprintf "Ours: %s (%s). Paper: %s." e.Primary.Label e.Primary.Key e.PaperMetric)
    line ""
    line "| arm | overrides | paper | ours, mean ± sd | every seed |"
    line "|---|---|---|---|---|"
    for a in s.Primary do
        line (sprintf "| %s | `%s` | %s | %s | %s |" a.Arm.Name (String.Join(" ", a.Arm.Overrides)) (paperValue a.Arm) (meanSd a) (seedsText a))
    line ""
    sb.Append(comparisonsTable s) |> ignore
    line ""
    sb.Append(secondaryTable s) |> ignore
    line ""
    sb.Append(preparedMd prepared) |> ignore
    line "The paper's numbers:"
    line ""
    line e.PaperTable
    line ""
    line (sprintf "Regime: %s" e.Regime)
    line ""
    line (runLine s)
    match discussion resultsDir s with
    | Some d ->
        line ""
        line d
    | None -> ()
    sb.ToString()

let tableMd (resultsDir: string) (s: ExperimentSummary) = tableMdWith resultsDir [] s

/// Rebuilds one experiment's files from its stored cells; returns its summary (None without results).
let writeExperiment (resultsDir: string) (png: bool) (log: TextWriter) (e: Experiment) =
    match Results.load resultsDir e.Name with
    | [] -> None
    | cells ->
        let s = summarizeExperiment e cells
        let prepared = Results.loadPrepared resultsDir e.Name
        let dir = Path.Combine(resultsDir, e.Name)
        let json = (summaryJsonWith prepared s).ToJsonString(JsonSerializerOptions(WriteIndented = true, Encoder = Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping))
        File.WriteAllText(Path.Combine(dir, "summary.json"), json + "\n")
        File.WriteAllText(Path.Combine(dir, "table.md"), tableMdWith resultsDir prepared s)
        let chart = Chart.build e cells
        Chart.saveHtml (Path.Combine(dir, "chart.html")) e chart
        if png then
            try Chart.savePng (Path.Combine(dir, "chart.png")) e.Curves.Length chart
            with ex -> log.WriteLine(sprintf "%s: chart.png not written (%s)" e.Name ex.Message)
        Some s

/// RESULTS.md; `linkTo` is the results folder as seen from RESULTS.md's own folder ("results/" or "").
let resultsMd (resultsDir: string) (linkTo: string) (experiments: Experiment list) (summaries: Map<string, ExperimentSummary>) =
    let sb = StringBuilder()
    let line (t: string) = sb.AppendLine t |> ignore
    line "# Klear-Reasoner's ablations at small scale"
    line ""
    line "Each claim of the paper as an experiment (`dotnet run --project paper-repro -c Release -- list`), run on"
    line "2 CPU cores with a tiny policy on the built-in tasks. Verdict rule, fixed before running: per comparison the"
    line "paired difference over seeds with a 95% Student t interval; above 0 reproduced, below 0 contradicted,"
    line "otherwise inconclusive. Rebuilt from `results/` by `report`."
    line ""
    line "| experiment | paper | claim | verdict |"
    line "|---|---|---|---|"
    for e in experiments do
        let v =
            match e.Runnable, summaries.TryFind e.Name with
            | NotRunnable _, _ -> "not runnable yet"
            | _, Some s when e.Comparisons.IsEmpty -> "calibration, no verdict" + (if s.Quick then " (quick run)" else "")
            | _, Some s -> Verdict.name s.Verdict + (if s.Quick then " (quick run)" else "")
            | _, None -> "not run yet"
        line (sprintf "| [%s](#%s) | %s | %s | %s |" e.Name e.Name e.PaperRef e.Claim v)
    for e in experiments do
        line ""
        line (sprintf "## %s" e.Name)
        line ""
        line (sprintf "%s — %s" e.PaperRef e.Claim)
        line ""
        match e.Runnable, summaries.TryFind e.Name with
        | NotRunnable why, _ -> line (sprintf "Not runnable yet: %s." why)
        | _, None -> line "Not run yet."
        | _, Some s ->
            if s.Quick then line "**Quick run: plumbing only, the numbers mean nothing.**\n"
            if e.Comparisons.IsEmpty then line (sprintf "Calibration, no verdict. %s. %s" e.Primary.Label e.Claim)
            else line (sprintf "Verdict: **%s**. %s; paper: %s." (Verdict.name s.Verdict) e.Primary.Label e.PaperMetric)
            line ""
            line "| arm | paper | ours, mean ± sd | every seed |"
            line "|---|---|---|---|"
            for a in s.Primary do line (sprintf "| %s | %s | %s | %s |" a.Arm.Name (paperValue a.Arm) (meanSd a) (seedsText a))
            line ""
            sb.Append(comparisonsTable s) |> ignore
            line ""
            sb.Append(secondaryTable s) |> ignore
            line ""
            line (sprintf "![%s](%s%s/chart.png)" e.Name linkTo e.Name)
            line ""
            match discussion resultsDir s with
            | Some d ->
                line d
                line ""
            | None -> ()
            line (runLine s)
            line ""
            let dir = linkTo + e.Name
            line (sprintf "Details: [table](%s/table.md), [interactive chart](%s/chart.html), [summary.json](%s/summary.json)." dir dir dir)
    sb.ToString()

/// Where RESULTS.md goes: paper-repro/RESULTS.md for the default results folder paper-repro/results, else inside the
/// results folder given.
let resultsMdPath (resultsDir: string) =
    let full = Path.GetFullPath resultsDir
    let parent = Path.GetDirectoryName full
    if Path.GetFileName full = "results" && File.Exists(Path.Combine(parent, "PaperRepro.fsproj")) then Path.Combine(parent, "RESULTS.md")
    else Path.Combine(full, "RESULTS.md")

/// Rebuilds every experiment's files in `resultsDir`, and RESULTS.md (resultsMdPath).
let writeAll (resultsDir: string) (png: bool) (log: TextWriter) (experiments: Experiment list) =
    Directory.CreateDirectory resultsDir |> ignore
    Chart.writePlotlyJs resultsDir
    let summaries =
        experiments |> List.choose (fun e -> writeExperiment resultsDir png log e |> Option.map (fun s -> e.Name, s)) |> Map.ofList
    let md = resultsMdPath resultsDir
    let linkTo = Path.GetRelativePath(Path.GetDirectoryName md, Path.GetFullPath resultsDir) |> fun r -> if r = "." then "" else r + "/"
    File.WriteAllText(md, resultsMd resultsDir linkTo experiments summaries)
    summaries
