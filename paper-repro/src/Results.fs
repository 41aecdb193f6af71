/// The files a finished cell leaves under results/NAME/cells/ARM__sSEED/, and reading them back. `report` reads
/// nothing else, so everything it prints comes from these small files.
module PaperRepro.Results

open System.IO
open System.Text.Json
open System.Text.Json.Nodes

let cellsDir (resultsDir: string) (experiment: string) = Path.Combine(resultsDir, experiment, "cells")
let cellDir resultsDir (c: Cell) = Path.Combine(cellsDir resultsDir c.Experiment, Cell.id c)

/// Where an experiment's data-preparation summaries are stored (results/NAME/data/*.summary.json).
let dataDir (resultsDir: string) (experiment: string) = Path.Combine(resultsDir, experiment, "data")

/// The stored preparation summaries of an experiment, by file name, in ordinal order.
let loadPrepared resultsDir (experiment: string) =
    let dir = dataDir resultsDir experiment
    if not (Directory.Exists dir) then []
    else
        Directory.GetFiles(dir, "*.summary.json")
        |> Array.sortWith (fun a b -> System.String.CompareOrdinal(a, b))
        |> Array.map (fun f -> Path.GetFileName f, JsonNode.Parse(File.ReadAllText f).AsObject())
        |> List.ofArray

/// Written last: a cell folder with cell.json is finished.
let [<Literal>] CellFile = "cell.json"

let parseRow (line: string) =
    let o = JsonNode.Parse(line).AsObject()
    let values =
        [ for KeyValue(k, v) in o do
              match v with
              | :? JsonValue as jv when k <> "step" && jv.GetValueKind() = JsonValueKind.Number -> k, jv.GetValue<float>()
              | _ -> () ]
    { Phase = o["phase"].GetValue<string>(); Step = o["step"].GetValue<int64>(); Values = Map.ofList values }

let readRows path =
    File.ReadLines path |> Seq.filter (fun l -> l.Trim().Length > 0) |> Seq.map parseRow |> List.ofSeq

/// The numbers of a report.json (strings and nested values are skipped).
let readFinal path =
    let o = JsonNode.Parse(File.ReadAllText path).AsObject()
    [ for KeyValue(k, v) in o do
          match v with
          | :? JsonValue as jv when jv.GetValueKind() = JsonValueKind.Number -> k, jv.GetValue<float>()
          | _ -> () ]
    |> Map.ofList

/// report.json's "machine" as "CPU, ISA[, MKL kernels]" ("unknown" for a report without it).
let readMachine path =
    match JsonNode.Parse(File.ReadAllText path).AsObject()["machine"] with
    | :? JsonObject as m ->
        let text (k: string) = match m[k] with null -> "?" | v -> v.ToString()
        match m["mkl"] with
        | null -> sprintf "%s, %s" (text "cpu") (text "isa")   // reports from before MklDispatch: MKL's own kernels
        | _ ->
            let stored = match m["weights"] with null -> "" | w -> sprintf ", weights %O" w   // recorded since WeightLayout
            sprintf "%s, %s, MKL %s%s" (text "cpu") (text "isa") (text "mkl") stored
    | _ -> "unknown"

/// What a cell records about itself besides the run's own files.
type CellInfo =
    { Cell: Cell
      GitCommit: string
      WallSeconds: float
      /// The SFT run it started from ("recipe__sSEED"), for RL cells.
      StartedFrom: string option
      /// The `klear train` arguments of its first start.
      Arguments: string list
      /// A `--quick` plumbing run, whose numbers mean nothing.
      Quick: bool }

let writeInfo (dir: string) (i: CellInfo) =
    let o = JsonObject()
    o["experiment"] <- JsonValue.Create i.Cell.Experiment
    o["arm"] <- JsonValue.Create i.Cell.Arm
    o["seed"] <- JsonValue.Create i.Cell.Seed
    o["git_commit"] <- JsonValue.Create i.GitCommit
    o["wall_seconds"] <- JsonValue.Create(System.Math.Round(i.WallSeconds, 1))
    o["started_from"] <- (match i.StartedFrom with Some s -> JsonValue.Create s :> JsonNode | None -> null)
    o["quick"] <- JsonValue.Create i.Quick
    o["arguments"] <- JsonArray(i.Arguments |> List.map (fun a -> JsonValue.Create a :> JsonNode) |> Array.ofList)
    File.WriteAllText(Path.Combine(dir, CellFile), o.ToJsonString(JsonSerializerOptions(WriteIndented = true)) + "\n")

let readCell (dir: string) : CellResult =
    let o = JsonNode.Parse(File.ReadAllText(Path.Combine(dir, CellFile))).AsObject()
    { Cell = { Experiment = o["experiment"].GetValue<string>(); Arm = o["arm"].GetValue<string>(); Seed = o["seed"].GetValue<int64>() }
      Rows = readRows (Path.Combine(dir, "metrics.jsonl"))
      Final = readFinal (Path.Combine(dir, "report.json"))
      GitCommit = o["git_commit"].GetValue<string>()
      WallSeconds = o["wall_seconds"].GetValue<float>()
      Machine = readMachine (Path.Combine(dir, "report.json"))
      Quick = o["quick"].GetValue<bool>() }

/// The SFT run a stored RL cell started from.
let readStartedFrom (dir: string) =
    let o = JsonNode.Parse(File.ReadAllText(Path.Combine(dir, CellFile))).AsObject()
    match o["started_from"] with
    | null -> None
    | v -> Some(v.GetValue<string>())

/// The `klear train` overrides a stored cell ran with.
let readArguments (dir: string) =
    let o = JsonNode.Parse(File.ReadAllText(Path.Combine(dir, CellFile))).AsObject()
    o["arguments"].AsArray() |> Seq.map (fun a -> a.GetValue<string>()) |> List.ofSeq

/// Every finished cell of an experiment, ordered by arm then seed (folder names sort that way).
let load resultsDir (experiment: string) =
    let dir = cellsDir resultsDir experiment
    if not (Directory.Exists dir) then []
    else
        Directory.GetDirectories dir
        |> Array.filter (fun d -> File.Exists(Path.Combine(d, CellFile)))
        |> Array.sortWith (fun a b -> System.String.CompareOrdinal(a, b))
        |> Array.map readCell
        |> List.ofArray

/// The (step, value) series of one metric in a cell.
let series (m: Metric) (r: CellResult) =
    r.Rows |> List.choose (fun row -> if row.Phase = m.Phase then row.Values.TryFind m.Key |> Option.map (fun v -> row.Step, v) else None)

let value (m: Metric) (r: CellResult) =
    match m.Reduce with
    | GainOverStart ->
        let start = series { m with Phase = "eval-sft" } r
        match series m r, start with
        | [], _ | _, [] -> None
        | s, st -> Some(snd (List.last s) - snd (List.last st))
    | _ -> Statistics.reduce m (series m r)
