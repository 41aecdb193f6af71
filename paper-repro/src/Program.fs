/// `paper-repro list | run NAME|all [--seeds N] [--quick] [--jobs J] [--out DIR] [--force] | report [--out DIR]`.
module PaperRepro.Program

open System
open System.IO
open Argu

type ListArgs =
    | [<Hidden>] Unused
    interface IArgParserTemplate with
        member _.Usage = ""

type RunArgs =
    | [<MainCommand; Mandatory>] Experiment of name: string
    | Seeds of n: int
    | Quick
    | Jobs of j: int
    | Out of dir: string
    | Work of dir: string
    | Force
    | No_Png
    interface IArgParserTemplate with
        member a.Usage =
            match a with
            | Experiment _ -> "an experiment's name (see list), or all"
            | Seeds _ -> "run N seeds from the experiment's first (1..N; calibration: 0..N-1)"
            | Quick -> "one seed, a few steps, tiny sizes: checks the pipeline, the numbers mean nothing"
            | Jobs _ -> "cells at once, one thread each (default 2, the machine's cores)"
            | Out _ -> "results folder (default paper-repro/results; paper-repro/work/quick-results with --quick)"
            | Work _ -> "folder for run directories and shared SFT runs (default paper-repro/work)"
            | Force -> "run the cells again even when their results are stored"
            | No_Png -> "skip chart.png (no chromium needed)"

type ReportArgs =
    | Out of dir: string
    | No_Png
    interface IArgParserTemplate with
        member a.Usage =
            match a with
            | Out _ -> "results folder to rebuild (default paper-repro/results)"
            | No_Png -> "skip chart.png (no chromium needed)"

type Args =
    | [<CliPrefix(CliPrefix.None)>] List of ParseResults<ListArgs>
    | [<CliPrefix(CliPrefix.None)>] Run of ParseResults<RunArgs>
    | [<CliPrefix(CliPrefix.None)>] Report of ParseResults<ReportArgs>
    interface IArgParserTemplate with
        member a.Usage =
            match a with
            | List _ -> "every experiment: paper reference, claim, arms, seeds, time estimate"
            | Run _ -> "run an experiment's cells (cached, resumable) and write its report"
            | Report _ -> "rebuild every table, chart and RESULTS.md from the stored results alone"

/// The checkout: the nearest folder above the working directory (or this program) holding Klear.sln.
let repoRoot () =
    let rec up (d: DirectoryInfo) =
        if isNull d then None
        elif File.Exists(Path.Combine(d.FullName, "Klear.sln")) then Some d.FullName
        else up d.Parent
    up (DirectoryInfo Environment.CurrentDirectory)
    |> Option.orElse (up (DirectoryInfo AppContext.BaseDirectory))
    |> Option.defaultValue Environment.CurrentDirectory

let private paperRepro () = Path.Combine(repoRoot (), "paper-repro")

/// chart.png needs Debian's chromium: installed here as root through the project's set-up script; otherwise the
/// HTML only and one notice.
let pngAvailable (log: TextWriter) =
    if File.Exists Chart.chromium then true
    else
        let script = Path.Combine(repoRoot (), "build", "require-debian-packages")
        if File.Exists script then
            try
                use p = Diagnostics.Process.Start("bash", [ script; "paper-repro's PNG charts"; "chromium" ])
                p.WaitForExit()
            with _ -> ()
        if File.Exists Chart.chromium then true
        else
            log.WriteLine(sprintf "notice: %s not found; charts are written as HTML only (no chart.png)" Chart.chromium)
            false

let private usage (msg: string) =
    eprintfn "%s" msg
    2

let listExperiments (out: TextWriter) =
    for e in Experiments.everything do
        out.WriteLine(sprintf "%s  (%s)" e.Name e.PaperRef)
        out.WriteLine(sprintf "  claim: %s" e.Claim)
        out.WriteLine(sprintf "  arms:  %s" (String.Join(", ", e.Arms |> List.map _.Name)))
        out.WriteLine(sprintf "  seeds: %s" (String.Join(", ", e.Seeds)))
        match e.Runnable with
        | Runnable ->
            let prepare = Experiment.prepareMinutes [ e ]
            out.WriteLine(sprintf "  time:  ~%.0f min with 2 jobs (estimate: %.1f min per cell, %.1f per SFT run%s)" (Experiment.estimateMinutes 2 e) e.CellMinutes e.SftMinutes
                                  (if prepare > 0.0 then sprintf ", %.0f of data preparation" prepare else ""))
        | NotRunnable why -> out.WriteLine(sprintf "  NOT RUNNABLE YET: %s" why)
    let runnable = Experiments.everything |> List.filter (fun e -> e.Runnable = Runnable)
    out.WriteLine(sprintf "run all (the runnable ones): ~%.0f min with 2 jobs, shared SFT runs counted once" (Experiment.estimateAll 2 runnable))

let runCommand (r: ParseResults<RunArgs>) =
    let name = r.GetResult RunArgs.Experiment
    let chosen =
        if name = "all" then
            for e in Experiments.everything do
                match e.Runnable with
                | NotRunnable why -> Console.WriteLine(sprintf "skipping %s, not runnable yet: %s" e.Name why)
                | Runnable -> ()
            Ok(Experiments.everything |> List.filter (fun e -> e.Runnable = Runnable))
        else
            match Experiments.tryFind name with
            | None -> Error(sprintf "unknown experiment '%s'; valid: all, %s" name (String.Join(", ", Experiments.everything |> List.map _.Name)))
            | Some { Runnable = NotRunnable why } -> Error(sprintf "%s is not runnable yet: %s" name why)
            | Some e -> Ok [ e ]
    match chosen, r.TryGetResult Seeds, r.GetResult(Jobs, 2) with
    | Error msg, _, _ -> usage msg
    | _, Some n, _ when n < 1 -> usage "--seeds must be at least 1"
    | _, _, j when j < 1 -> usage "--jobs must be at least 1"
    | Ok experiments, seeds, jobs ->
        let quick = r.Contains Quick
        let experiments =
            experiments
            |> List.map (fun e -> match seeds with Some n -> Experiments.withSeeds n e | None -> e)
            |> List.map (fun e -> if quick then Experiments.quick e else e)
        match experiments |> List.collect Experiment.validate with
        | _ :: _ as errors -> usage (String.Join("\n", errors))
        | [] ->
            let results =
                r.TryGetResult RunArgs.Out
                |> Option.defaultValue (Path.Combine(paperRepro (), (if quick then "work/quick-results" else "results")))
                |> Path.GetFullPath
            let work = r.TryGetResult Work |> Option.defaultValue (Path.Combine(paperRepro (), "work")) |> Path.GetFullPath
            let settings: Runner.Settings =
                { Results = results
                  Work = work
                  Jobs = jobs
                  Force = r.Contains Force
                  Quick = quick
                  Klear = Runner.defaultKlear ()
                  GitCommit = Runner.gitCommit (repoRoot ())
                  Log = Console.Out }
            let clock = Diagnostics.Stopwatch.StartNew()
            Console.WriteLine(sprintf "running %s into %s (work: %s, %d jobs)" (String.Join(", ", experiments |> List.map _.Name)) results work jobs)
            let outcomes = Runner.run settings experiments
            let png = not (r.Contains RunArgs.No_Png) && pngAvailable Console.Out
            Report.writeAll results png Console.Out Experiments.everything |> ignore
            let failed = outcomes |> List.filter (fun o -> o.Error.IsSome)
            Console.WriteLine(sprintf "done in %.0f s: %d ran or collected, %d cached, %d failed; report: %s" clock.Elapsed.TotalSeconds
                                  (outcomes |> List.filter (fun o -> o.Error.IsNone && o.Action <> Runner.Cached) |> List.length)
                                  (outcomes |> List.filter (fun o -> o.Action = Runner.Cached) |> List.length) failed.Length
                                  (Report.resultsMdPath results))
            if failed.IsEmpty then 0 else 1

let reportCommand (r: ParseResults<ReportArgs>) =
    let results = r.TryGetResult ReportArgs.Out |> Option.defaultValue (Path.Combine(paperRepro (), "results")) |> Path.GetFullPath
    if not (Directory.Exists results) then usage (sprintf "--out: no results folder at %s" results)
    else
        let png = not (r.Contains ReportArgs.No_Png) && pngAvailable Console.Out
        let summaries = Report.writeAll results png Console.Out Experiments.everything
        Console.WriteLine(sprintf "rebuilt %d experiment(s) and %s" summaries.Count (Report.resultsMdPath results))
        0

/// The whole CLI; usage errors exit 2 with Argu's message.
let main' (argv: string[]) =
    let parser = ArgumentParser.Create<Args>(programName = "paper-repro")
    try
        let args = parser.ParseCommandLine(argv)
        match args.GetSubCommand() with
        | List _ ->
            listExperiments Console.Out
            0
        | Run r -> runCommand r
        | Report r -> reportCommand r
    with
    | :? ArguParseException as e when e.ErrorCode = ErrorCode.HelpText ->
        printfn "%s" e.Message
        0
    | :? ArguParseException as e -> usage e.Message

[<EntryPoint>]
let main argv = main' argv
