/// Runs cells as `klear train` child processes: SFT runs (once per recipe and seed, shared across experiments) and
/// every cell, up to `Jobs` at once, a cell as soon as its SFT run is done, each in its own folder under the work
/// directory. A finished
/// cell is copied to the results as small files and never run again unless forced; an interrupted one is resumed
/// from its latest checkpoint (`klear train --resume`) or, without one, started afresh.
module PaperRepro.Runner

open System
open System.Diagnostics
open System.IO
open System.Security.Cryptography
open System.Text
open System.Text.Json
open System.Text.Json.Nodes

type Settings =
    { Results: string
      Work: string
      Jobs: int
      Force: bool
      Quick: bool
      /// The klear.dll to run with `dotnet`.
      Klear: string
      GitCommit: string
      Log: TextWriter }

/// What happened to a cell (or an SFT run) in this invocation.
type Action =
    /// Already in the results; nothing ran.
    | Cached
    /// Its run had finished but was not yet copied (the program stopped in between).
    | Collected
    | Resumed
    | Started
    /// A prepared file rebuilt from the line numbers stored with the results: neither its step nor its SFT ran.
    | Restored

type Outcome =
    { Name: string
      Action: Action
      Error: string option }

/// klear.dll beside this program (the project reference to Klear.Host puts it there).
let defaultKlear () = Path.Combine(AppContext.BaseDirectory, "klear.dll")

/// The HEAD commit of the checkout at `dir`, with "+dirty" when tracked files differ; "unknown" outside git.
let gitCommit (dir: string) =
    let git args =
        try
            let psi = ProcessStartInfo("git", RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false, WorkingDirectory = dir)
            for a in args do psi.ArgumentList.Add a
            use p = Process.Start psi
            let out = p.StandardOutput.ReadToEnd()
            p.WaitForExit()
            if p.ExitCode = 0 then Some(out.Trim()) else None
        with _ -> None
    match git [ "rev-parse"; "HEAD" ] with
    | Some head ->
        match git [ "status"; "--porcelain"; "--untracked-files=no" ] with
        | Some "" -> head
        | _ -> head + "+dirty"
    | None -> "unknown"

let private hash (parts: string list) =
    let bytes = SHA256.HashData(Encoding.UTF8.GetBytes(String.concat "\n" parts))
    Convert.ToHexString(bytes).Substring(0, 8).ToLowerInvariant()

/// The one klear run directory inside `outputDir` (klear names it by task, objective, seed and time).
let private runDirIn (outputDir: string) =
    if not (Directory.Exists outputDir) then None
    else
        Directory.GetDirectories outputDir
        |> Array.filter (fun d -> File.Exists(Path.Combine(d, "config.yaml")))
        |> Array.sortDescending
        |> Array.tryHead

let private finished runDir = File.Exists(Path.Combine(runDir, "report.json"))

let private latestCheckpoint runDir =
    let latest = Path.Combine(runDir, "checkpoints", "latest")
    if File.Exists latest then Some(Path.Combine(runDir, "checkpoints", File.ReadAllText(latest).Trim())) else None

/// The klear processes this program started and that are still running: ended with it (Ctrl-C, SIGTERM), so a
/// killed `run` leaves no trainer writing into a folder the next `run` resumes.
let private running = System.Collections.Concurrent.ConcurrentDictionary<int, Process>()

let private endChildren () =
    for KeyValue(_, p) in running do
        try p.Kill true with _ -> ()

let private endChildrenOnExit =
    lazy
        [ for signal in [ Runtime.InteropServices.PosixSignal.SIGTERM; Runtime.InteropServices.PosixSignal.SIGINT ] ->
              Runtime.InteropServices.PosixSignalRegistration.Create(signal, fun _ -> endChildren ()) ]

/// A klear still running in `dir` (left by a `run` that was killed with SIGKILL), by the pid it recorded: alive
/// only if that pid's command line still names `dir` (a reused pid or a reaped zombie does not).
let private stillRunning (dir: string) =
    let pidFile = Path.Combine(dir, "klear.pid")
    if not (File.Exists pidFile) then None
    else
        match Int32.TryParse(File.ReadAllText(pidFile).Trim()) with
        | true, pid ->
            let cmdline = sprintf "/proc/%d/cmdline" pid
            try
                if File.Exists cmdline && File.ReadAllText(cmdline).Replace('\000', ' ').Contains(dir) then Some pid else None
            with _ -> None
        | _ -> None

/// Runs `dotnet klear.dll ARGS`, appending its output to `logPath`; the exit code, or the log's tail on failure.
let private klear (s: Settings) (logPath: string) (args: string list) =
    let dir = Path.GetDirectoryName logPath
    Directory.CreateDirectory dir |> ignore
    match stillRunning dir with
    | Some pid -> Error(sprintf "a klear (pid %d) is still running in %s; wait for it or end it, then run again" pid dir)
    | None ->
    use log = new StreamWriter(logPath, true)
    log.WriteLine("$ dotnet " + String.Join(" ", s.Klear :: args))
    log.Flush()
    let psi = ProcessStartInfo("dotnet", RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false)
    psi.ArgumentList.Add s.Klear
    for a in args do psi.ArgumentList.Add a
    use p = new Process(StartInfo = psi)
    let gate = obj ()
    let write (e: DataReceivedEventArgs) = if not (isNull e.Data) then lock gate (fun () -> log.WriteLine e.Data)
    p.OutputDataReceived.Add write
    p.ErrorDataReceived.Add write
    endChildrenOnExit.Force() |> ignore
    p.Start() |> ignore
    running[p.Id] <- p
    File.WriteAllText(Path.Combine(dir, "klear.pid"), string p.Id)
    p.BeginOutputReadLine()
    p.BeginErrorReadLine()
    p.WaitForExit()
    running.TryRemove p.Id |> ignore
    File.Delete(Path.Combine(dir, "klear.pid"))
    lock gate (fun () -> log.Flush())
    if p.ExitCode = 0 then Ok()
    else
        log.Close()
        let tail = File.ReadAllLines logPath |> Array.rev |> Array.truncate 15 |> Array.rev
        Error(sprintf "klear exited with %d; %s ends:\n%s" p.ExitCode logPath (String.Join("\n", tail)))

/// The work folder's data/, where prepared files live (data-quick/ under --quick: a tiny file never stands in for
/// the real one, nor the other way round).
let dataDir (s: Settings) = Path.Combine(s.Work, (if s.Quick then "data-quick" else "data"))

/// Replaces `{data}` in arguments by the data folder of this work folder.
let substitute (s: Settings) (args: string list) = args |> List.map (fun a -> a.Replace("{data}", dataDir s))

/// Brings the klear run in `outputDir` to its end: resumes it, restarts it, or starts it. Returns its run dir.
let private complete (s: Settings) (outputDir: string) (args: string list) =
    let args = substitute s args
    let log = Path.Combine(outputDir, "klear.log")
    let start () =
        klear s log ([ "train" ] @ args @ [ "output_dir=" + outputDir ])
        |> Result.bind (fun () ->
            match runDirIn outputDir with
            | Some d when finished d -> Ok(d, Started)
            | _ -> Error(sprintf "klear finished but left no report.json under %s" outputDir))
    match runDirIn outputDir with
    | Some d when finished d -> Ok(d, Collected)
    | Some d when (latestCheckpoint d).IsSome ->
        klear s log [ "train"; "--resume"; d ]
        |> Result.bind (fun () -> if finished d then Ok(d, Resumed) else Error(sprintf "resumed run %s left no report.json" d))
    | Some d ->
        Directory.Delete(d, true)
        start ()
    | None -> start ()

// ---- SFT runs ------------------------------------------------------------------------------------------------------

/// "recipe-HASH__sSEED": an SFT run's identity (an edited recipe is another run).
let sftId (r: SftRecipe) (seed: int64) = sprintf "%s-%s__s%d" r.Name (hash r.Overrides) seed

/// The folder of one SFT run: recipe name, a hash of its overrides, seed.
let sftDir (s: Settings) (r: SftRecipe) (seed: int64) = Path.Combine(s.Work, "sft", sftId r seed)

let sftArgs (r: SftRecipe) (seed: int64) =
    r.Overrides @ [ "trainer.steps=0"; sprintf "seed=%d" seed; "threads=1" ]

/// The model directory of a finished SFT run (its last checkpoint, written after SFT's evaluation).
let sftModel (s: Settings) r seed =
    runDirIn (sftDir s r seed)
    |> Option.filter finished
    |> Option.bind latestCheckpoint
    |> Option.map (fun c -> Path.Combine(c, "model"))

let private runSft (s: Settings) (r: SftRecipe, seed: int64) =
    let name = sprintf "sft %s seed %d" r.Name seed
    match sftModel s r seed with
    | Some _ -> { Name = name; Action = Cached; Error = None }
    | None ->
        match complete s (sftDir s r seed) (sftArgs r seed) with
        | Ok(_, action) -> { Name = name; Action = action; Error = None }
        | Error e -> { Name = name; Action = Started; Error = Some e }

// ---- data ----------------------------------------------------------------------------------------------------------

let private prepareName (step: PrepareStep) = sprintf "data %s" step.Output

/// Where a step's JSON summary lives in the work folder's data/.
let summaryPath (s: Settings) (step: PrepareStep) = Path.ChangeExtension(Path.Combine(dataDir s, step.Output), ".summary.json")

/// What a prepared file was made from: its arguments as stated and the SFT run it read.
let private prepareKey (step: PrepareStep) =
    String.concat "\n" (step.Arguments @ (step.Needs |> Option.map (fun n -> "model: " + sftId n.Recipe n.Seed) |> Option.toList))

let private keyFile (final: string) = Path.Combine(Path.GetDirectoryName final, "." + Path.GetFileName final + ".key")

/// Where a subset step's line numbers live in the work folder's data/ (copied to results/NAME/data/ like a summary).
let rowsPath (s: Settings) (step: PrepareStep) = Path.ChangeExtension(Path.Combine(dataDir s, step.Output), ".rows.json")

let private sha256 (path: string) = Convert.ToHexStringLower(SHA256.HashData(File.ReadAllBytes path))

/// This machine's CPU as /proc/cpuinfo names it: a filter's output depends on its reference policy's float rounding.
let private cpu () =
    try
        let lines = File.ReadLines "/proc/cpuinfo" |> Seq.takeWhile (fun l -> l.Trim() <> "") |> List.ofSeq
        let field (name: string) =
            lines |> List.tryPick (fun l ->
                match l.Split(':', 2) with
                | [| k; v |] when k.Trim() = name -> Some(v.Trim())
                | _ -> None)
        sprintf "%s, family %s model %s" (defaultArg (field "model name") "?") (defaultArg (field "cpu family") "?") (defaultArg (field "model") "?")
    with _ -> "unknown"

/// The line numbers (0-based) of `output`'s lines in `input`, which must hold them in order, byte for byte.
let private keptLines (input: string) (output: string) =
    let source = File.ReadAllLines input
    let mutable i = 0
    [ for line in File.ReadLines output do
          while i < source.Length && source[i] <> line do i <- i + 1
          if i = source.Length then failwithf "%s is not a subset of %s's lines in order" output input
          yield i
          i <- i + 1 ]

/// Stores which lines of its input a subset step kept, with what identifies them (the step's key, both files' hashes).
let private writeRows (s: Settings) (step: PrepareStep) (input: string) (key: string) =
    let final = Path.Combine(dataDir s, step.Output)
    let o = JsonObject()
    o["key"] <- JsonValue.Create key
    o["input"] <- JsonValue.Create(step.SubsetOf.Value)
    o["input_sha256"] <- JsonValue.Create(sha256 input)
    o["output_sha256"] <- JsonValue.Create(sha256 final)
    o["git_commit"] <- JsonValue.Create s.GitCommit
    o["cpu"] <- JsonValue.Create(cpu ())
    o["kept"] <- JsonArray(keptLines input final |> List.map (fun i -> JsonValue.Create i :> JsonNode) |> Array.ofList)
    File.WriteAllText(rowsPath s step, o.ToJsonString(JsonSerializerOptions(WriteIndented = false)) + "\n")

/// Writes a prepared file unless it exists with the same key (into temporary names first, so a killed step leaves
/// nothing half-written; the key last).
let prepare (s: Settings) (step: PrepareStep) =
    let final = Path.Combine(dataDir s, step.Output)
    let name = prepareName step
    let key = prepareKey step
    if File.Exists final && File.Exists(keyFile final) && File.ReadAllText(keyFile final) = key then { Name = name; Action = Cached; Error = None }
    else
        let model =
            match step.Needs with
            | None -> Ok None
            | Some n ->
                match sftModel s n.Recipe n.Seed with
                | Some m -> Ok(Some m)
                | None -> Error(sprintf "it needs the SFT run %s, seed %d, which did not finish" n.Recipe.Name n.Seed)
        match model with
        | Error e -> { Name = name; Action = Started; Error = Some e }
        | Ok model ->
            let dir = Path.GetDirectoryName final
            Directory.CreateDirectory dir |> ignore
            let temp = Path.Combine(dir, ".tmp-" + Path.GetFileName final)
            let tempSummary = Path.Combine(dir, ".tmp-" + Path.GetFileName(summaryPath s step))
            let args =
                step.Arguments
                |> List.map (fun a -> a.Replace("{out}", temp).Replace("{summary}", tempSummary).Replace("{model}", defaultArg model "{model}"))
                |> substitute s
            match klear s (Path.Combine(dataDir s, "prepare.log")) args with
            | Ok() when File.Exists temp && (not step.Summary || File.Exists tempSummary) ->
                if step.Summary then File.Move(tempSummary, summaryPath s step, true)
                File.Move(temp, final, true)
                step.SubsetOf |> Option.iter (fun input -> writeRows s step (Path.Combine(dataDir s, input)) key)
                File.WriteAllText(keyFile final, key)
                { Name = name; Action = Started; Error = None }
            | Ok() -> { Name = name; Action = Started; Error = Some(sprintf "klear %s wrote no %s" (String.Join(" ", args)) (if File.Exists temp then tempSummary else temp)) }
            | Error e -> { Name = name; Action = Started; Error = Some e }

/// A summary as stored with the results: paths inside the work folder read `{data}/...` or `{work}/...`, so the
/// stored file does not depend on the machine.
let private portable (s: Settings) (text: string) =
    let rec walk (n: JsonNode) : JsonNode =
        match n with
        | :? JsonObject as o ->
            for KeyValue(k, v) in List.ofSeq o do
                if not (isNull v) then o[k] <- walk v
            o :> _
        | :? JsonArray as a ->
            for i in 0 .. a.Count - 1 do
                if not (isNull a[i]) then a[i] <- walk a[i]
            a :> _
        | :? JsonValue as v when v.GetValueKind() = JsonValueKind.String ->
            JsonValue.Create(v.GetValue<string>().Replace(dataDir s, "{data}").Replace(s.Work, "{work}")) :> _
        | n -> n.DeepClone()
    (walk (JsonNode.Parse text)).ToJsonString(JsonSerializerOptions(WriteIndented = true)) + "\n"

/// Copies the summaries and subset line numbers of an experiment's prepared files into results/NAME/data/.
let private storeSummaries (s: Settings) (e: Experiment) =
    let copy (source: string) =
        if File.Exists source then
            let target = Path.Combine(Results.dataDir s.Results e.Name, Path.GetFileName source)
            Directory.CreateDirectory(Path.GetDirectoryName target) |> ignore
            File.WriteAllText(target, portable s (File.ReadAllText source))
    for step in e.Prepare do
        if step.Summary then copy (summaryPath s step)
        if step.SubsetOf.IsSome then copy (rowsPath s step)

/// Rebuilds a subset step's file from line numbers stored with the results of one of `experiments`, when they were
/// made with the same key (arguments and SFT run) from an input with the same bytes as the one prepared here; the
/// rebuilt file must hash as the original did. None when there is nothing to restore from (the step then runs).
let restore (s: Settings) (experiments: Experiment list) (step: PrepareStep) =
    let final = Path.Combine(dataDir s, step.Output)
    let key = prepareKey step
    match step.SubsetOf with
    | None -> None
    | Some _ when File.Exists final && File.Exists(keyFile final) && File.ReadAllText(keyFile final) = key -> None
    | Some inputName ->
        let input = Path.Combine(dataDir s, inputName)
        let stored =
            experiments
            |> List.filter (fun e -> List.contains step e.Prepare)
            |> List.map (fun e -> Path.Combine(Results.dataDir s.Results e.Name, Path.GetFileName(rowsPath s step)))
            |> List.filter File.Exists
            |> List.map (fun f -> JsonNode.Parse(File.ReadAllText f).AsObject())
            |> List.tryFind (fun o -> o["key"].GetValue<string>() = key)
        match stored with
        | Some o when File.Exists input && o["input_sha256"].GetValue<string>() = sha256 input ->
            let lines = File.ReadAllLines input
            let temp = Path.Combine(Path.GetDirectoryName final, ".tmp-" + Path.GetFileName final)
            File.WriteAllLines(temp, o["kept"].AsArray() |> Seq.map (fun n -> lines[n.GetValue<int>()]), UTF8Encoding(false))
            if sha256 temp <> o["output_sha256"].GetValue<string>() then
                File.Delete temp
                Some { Name = prepareName step; Action = Restored; Error = Some(sprintf "the rows stored for %s rebuild a file with other bytes than the original; delete results/*/data/%s to run the step again" step.Output (Path.GetFileName(rowsPath s step))) }
            else
                File.Move(temp, final, true)
                File.WriteAllText(rowsPath s step, o.ToJsonString() + "\n")
                File.WriteAllText(keyFile final, key)
                Some { Name = prepareName step; Action = Restored; Error = None }
        | _ -> None

// ---- cells ---------------------------------------------------------------------------------------------------------

/// The cell's `klear train` overrides, without the paths that depend on where the program runs.
let cellArgs (e: Experiment) (c: Cell) =
    let arm = Experiment.arm e c.Arm
    let forced =
        match e.Kind with
        | SftOnly -> [ "trainer.steps=0" ]
        | RlFrom _ -> [ "sft.steps=0" ]
    e.Base @ arm.Overrides @ forced @ [ sprintf "seed=%d" c.Seed; "threads=1" ]

let private workDir (s: Settings) (c: Cell) = Path.Combine(s.Work, "cells", c.Experiment, Cell.id c)

/// The SFT run an RL cell starts from, as "recipe-HASH__sSEED" (an edited recipe is another start).
let startedFrom (e: Experiment) (c: Cell) =
    match e.Kind with
    | RlFrom r -> Some(sftId r c.Seed)
    | SftOnly -> None

/// Copies the run's small files into results/NAME/cells/ARM__sSEED/ (via a temporary folder renamed into place).
let private store (s: Settings) (e: Experiment) (c: Cell) (runDir: string) =
    let final = Results.cellDir s.Results c
    let temp = Path.Combine(Path.GetDirectoryName final, ".tmp-" + Cell.id c)
    if Directory.Exists temp then Directory.Delete(temp, true)
    Directory.CreateDirectory temp |> ignore
    for f in [ "metrics.jsonl"; "report.json"; "config.yaml" ] do
        File.Copy(Path.Combine(runDir, f), Path.Combine(temp, f))
    let seconds = Results.readFinal(Path.Combine(runDir, "report.json")).TryFind "seconds" |> Option.defaultValue 0.0
    Results.writeInfo
        temp
        { Cell = c
          GitCommit = s.GitCommit
          WallSeconds = seconds
          StartedFrom = startedFrom e c
          Arguments = cellArgs e c
          Quick = s.Quick }
    if Directory.Exists final then Directory.Delete(final, true)
    Directory.Move(temp, final)

/// A stored cell is current when it ran with the arguments the experiment gives it now, from the same SFT run.
let private current (s: Settings) (e: Experiment) (c: Cell) =
    let dir = Results.cellDir s.Results c
    File.Exists(Path.Combine(dir, Results.CellFile))
    && Results.readArguments dir = cellArgs e c
    && Results.readStartedFrom dir = startedFrom e c

let private runCell (s: Settings) (unprepared: Set<string>) (e: Experiment, c: Cell) =
    let name = sprintf "%s/%s" e.Name (Cell.id c)
    let fail action msg = { Name = name; Action = action; Error = Some msg }
    if current s e c then { Name = name; Action = Cached; Error = None }
    elif e.Prepare |> List.exists (fun p -> unprepared.Contains p.Output) then
        let missing = e.Prepare |> List.filter (fun p -> unprepared.Contains p.Output) |> List.map _.Output
        fail Started (sprintf "its data was not prepared: %s" (String.Join(", ", missing)))
    else
        let extra =
            match e.Kind with
            | SftOnly -> Ok []
            | RlFrom r ->
                match sftModel s r c.Seed with
                | Some m -> Ok [ "model.path=" + m ]
                | None -> Error(sprintf "its SFT run (%s, seed %d) did not finish" r.Name c.Seed)
        match extra with
        | Error msg -> fail Started msg
        | Ok extra ->
            // A run left by an earlier version of the experiment is not this cell's: start over.
            let dir = workDir s c
            let key = String.concat "\n" (cellArgs e c @ Option.toList (startedFrom e c))
            let keyFile = Path.Combine(dir, "cell.key")
            if Directory.Exists dir && not (File.Exists keyFile && File.ReadAllText keyFile = key) then Directory.Delete(dir, true)
            Directory.CreateDirectory dir |> ignore
            File.WriteAllText(keyFile, key)
            match complete s dir (cellArgs e c @ extra) with
            | Ok(runDir, action) ->
                store s e c runDir
                { Name = name; Action = action; Error = None }
            | Error msg -> fail Started msg

/// Runs `tasks` on up to `jobs` threads, each task once every task it needs (by index) has finished; among the ready
/// ones the earliest in the list goes first. So a cell starts as soon as its SFT run is done, instead of waiting for
/// every SFT run (with 3 seeds on 2 jobs the last SFT run otherwise left a core idle for its whole length).
let schedule jobs (tasks: (int list * (unit -> unit)) list) =
    let tasks = Array.ofList tasks
    let gate = obj ()
    let state = Array.create tasks.Length 0   // 0 waiting, 1 running, 2 finished
    let mutable failure: exn option = None
    let ready i = state[i] = 0 && fst tasks[i] |> List.forall (fun d -> state[d] = 2)
    let rec next () =
        match Array.tryFindIndex id (Array.init tasks.Length ready) with
        | Some i -> state[i] <- 1; Some i
        | None when Array.contains 0 state && failure.IsNone -> Threading.Monitor.Wait gate |> ignore; next ()
        | None -> None
    let worker () =
        let mutable go = true
        while go do
            match lock gate next with
            | None -> go <- false
            | Some i ->
                try
                    try (snd tasks[i]) ()
                    with e -> lock gate (fun () -> if failure.IsNone then failure <- Some e)
                finally
                    lock gate (fun () -> state[i] <- 2; Threading.Monitor.PulseAll gate)
    let threads = [ for _ in 1 .. max 1 jobs -> Threading.Thread(worker, IsBackground = true) ]
    for t in threads do t.Start()
    for t in threads do t.Join()
    failure |> Option.iter (fun e -> raise (AggregateException(e)))

/// Runs the experiments' cells: their data, the SFT runs they need, then the cells; returns every outcome, in order.
/// Data that reads an SFT checkpoint is prepared right after that SFT run, in the same job, while the other jobs
/// run the remaining SFT runs.
let run (s: Settings) (experiments: Experiment list) =
    Directory.CreateDirectory s.Results |> ignore
    Directory.CreateDirectory s.Work |> ignore
    let cells = [ for e in experiments do for c in Experiment.cells e -> e, c ]
    if s.Force then
        for e, c in cells do
            let dirs = [ Results.cellDir s.Results c; workDir s c ]
            for d in dirs do if Directory.Exists d then Directory.Delete(d, true)
    let todo = cells |> List.filter (fun (e, c) -> not (current s e c))
    let report (o: Outcome) =
        lock s.Log (fun () ->
            match o.Error with
            | None -> s.Log.WriteLine(sprintf "  %-40s %A" o.Name o.Action)
            | Some e -> s.Log.WriteLine(sprintf "  %-40s FAILED: %s" o.Name e))
        o
    let steps = todo |> List.collect (fun (e, _) -> e.Prepare) |> List.distinct
    let independent, dependent = steps |> List.partition (fun p -> p.Needs.IsNone)
    let data = independent |> List.map (fun step -> step, report (prepare s step))
    // A filter stored with the results needs neither its reference SFT nor its sampling again (a clean machine).
    let restored = dependent |> List.choose (fun p -> restore s experiments p |> Option.map (fun o -> p, report o))
    let data = data @ restored
    let dependent = dependent |> List.filter (fun p -> not (List.exists (fun (r, _) -> r = p) restored))
    let needed = dependent |> List.choose (fun p -> p.Needs |> Option.map (fun n -> n.Recipe, n.Seed))
    let sfts =
        needed @ (todo |> List.choose (fun (e, c) -> match e.Kind with RlFrom r -> Some(r, c.Seed) | SftOnly -> None))
        |> List.distinctBy (fun (r, seed) -> sftDir s r seed)
    let after (r, seed) =
        dependent |> List.filter (fun p -> p.Needs |> Option.exists (fun n -> sftDir s n.Recipe n.Seed = sftDir s r seed))
    let sftWork = Array.create sfts.Length (None: (Outcome * (PrepareStep * Outcome) list) option)
    let cellOutcomes = Array.create cells.Length (None: Outcome option)
    let failedData () =
        data @ (sftWork |> Array.toList |> List.choose id |> List.collect snd)
        |> List.filter (fun (_, o) -> o.Error.IsSome) |> List.map (fun (p, _) -> p.Output) |> Set.ofList
    // A cell needs its own SFT run and the SFT runs whose data its experiment prepares (e.g. a reference policy's filter).
    let needs (e: Experiment, c: Cell) =
        sfts |> List.indexed |> List.choose (fun (i, x) ->
            let own = match e.Kind with RlFrom r -> sftDir s r c.Seed = sftDir s (fst x) (snd x) | SftOnly -> false
            let feeds = after x |> List.exists (fun p -> List.contains p e.Prepare)
            if own || feeds then Some i else None)
    let sftTasks =
        [ for i, x in List.indexed sfts ->
              [], fun () ->
                  let sft = report (runSft s x)
                  let prepared = [ for step in after x -> step, report (prepare s step) ]
                  lock sftWork (fun () ->
                      sftWork[i] <- Some(sft, prepared)
                      for e in experiments do storeSummaries s e) ]
    let cellTasks =
        [ for i, x in List.indexed cells ->
              needs x, fun () -> cellOutcomes[i] <- Some(report (runCell s (lock sftWork failedData) x)) ]
    schedule s.Jobs (sftTasks @ cellTasks)
    for e in experiments do storeSummaries s e
    List.map snd data @ (sftWork |> Array.toList |> List.choose id |> List.collect (fun (sft, deps) -> sft :: List.map snd deps))
    @ (cellOutcomes |> Array.toList |> List.choose id)
