/// Data-parallel training: the all-reduced normalisers on uneven shards (in-process ranks on threads), and real
/// `mpiexec -n 2` jobs of the klear program against one process — per-step metrics and final parameters for SFT and RL
/// in every aggregation mode, a rank killed mid-run, and a resumed -n 2 run against the uninterrupted one.
module Klear.Tests.MpiTests

open System
open System.Diagnostics
open System.IO
open System.Text.Json.Nodes
open System.Threading
open Expecto
open TorchSharp
open Klear.Algorithms
open Klear.Host.Checkpoints
open Klear.Host.Training
open Klear.Tests.TestTensors

// ---------------------------------------------------------------------------------------------------------------
// In-process ranks: threads exchanging through shared slots (an independent stand-in for MPI's sums).

type private Group(size: int) =
    let barrier = new Barrier(size)
    let slots: obj array = Array.zeroCreate size
    member _.Exchange(rank: int, value: obj) : obj array =
        let wait () = if not (barrier.SignalAndWait(TimeSpan.FromSeconds 30.0)) then failwith "a rank did not reach the exchange"
        slots[rank] <- value
        wait ()
        let all = Array.copy slots
        wait ()
        all

type private ThreadRank(group: Group, rank: int, size: int) =
    interface ICollectives with
        member _.Rank = rank
        member _.Size = size
        member _.Stats = CollectiveStats()
        member _.AllReduceSum(t: torch.Tensor) =
            let all = group.Exchange(rank, box (values t)) |> Array.map unbox<float[]>
            let sum = Array.init all[0].Length (fun i -> all |> Array.sumBy (fun a -> a[i]))
            use summed = torch.tensor(sum, dtype = torch.float64).reshape(t.shape).to_type t.dtype
            t.copy_ summed |> ignore
        member _.AllGather(mine: byte[]) = group.Exchange(rank, box mine) |> Array.map unbox<byte[]>
        member _.Broadcast(b: byte[]) = group.Exchange(rank, box b)[0] :?> byte[]

/// Runs `body rank world` on `size` threads at once; their results in rank order.
let private onRanks size (body: int -> ICollectives -> 'T) =
    let group = Group size
    let results = Array.zeroCreate size
    let errors: exn option array = Array.create size None
    let threads =
        [| for r in 0 .. size - 1 ->
               Thread(fun () ->
                   try results[r] <- body r (ThreadRank(group, r, size))
                   with e -> errors[r] <- Some e) |]
    for t in threads do t.Start()
    for t in threads do t.Join()
    match errors |> Array.tryPick id with
    | Some e -> raise (Exception("a rank failed", e))
    | None -> results

/// B rows of length T with the given response lengths (uneven on purpose), random log-probs and advantages.
let private batch (lengths: int[]) t =
    let rng = Random 7
    let b = lengths.Length
    let u lo hi = lo + (hi - lo) * rng.NextDouble()
    let shape (xs: float[]) = torch.tensor(xs, dtype = torch.float64).reshape (int64 b, int64 t)
    let logp = Array.init (b * t) (fun _ -> u -3.0 -0.01)
    let old = logp |> Array.map (fun x -> x + u -0.5 0.5)
    let adv = Array.init b (fun _ -> u -2.0 2.0)
    let mask = Array.init (b * t) (fun k -> if k % t < lengths[k / t] then 1.0 else 0.0)
    let correct = tensor1 (Array.init b (fun i -> float (i % 2)))
    fun (rows: int list) ->
        let idx = torch.tensor(rows |> List.map int64 |> Array.ofList)
        let pick (x: torch.Tensor) = x.index_select(0L, idx)
        { Policy =
            PolicyBatch.create (pick (shape logp)) (pick (shape old)) (pick (shape (Array.init (b * t) (fun k -> adv[k / t])))) (pick (shape mask))
          Correct = Some(pick correct)
          RefLogp = Some(pick (shape old))
          Entropy = None }

let private normaliserTests =
    testList "all-reduced normalisers" [
        for mode in [ TokenMean; SeqMeanTokenMean; SeqMeanTokenSum; SeqMeanTokenSumNorm 9.0 ] do
            // Rank 0 holds one short row, rank 1 four long ones (one empty); in the last case rank 0 holds nothing.
            for name, shards in [ "uneven", [ [ [ 0 ] ]; [ [ 1; 2 ]; [ 3; 4 ] ] ]; "one rank empty", [ []; [ [ 0; 1; 2 ]; [ 3; 4 ] ] ] ] do
                test $"{Aggregation.name mode}, {name}: the global normalisers and loss are one process's" {
                    let inputs = batch [| 2; 9; 0; 7; 8 |] 9
                    let loss =
                        Loss.aggregate mode (Clipped(Gppo.gppo ClipRange.Default))
                        |> Loss.plus (0.1 * Loss.sftOnCorrectWith mode)
                        |> Loss.plus (0.05 * Loss.klPenalty K3)
                    let whole = shards |> List.concat |> List.map inputs
                    let expected = Loss.normalisers loss whole
                    let expectedTotal = whole |> List.sumBy (fun i -> scalarOf (Loss.evaluateMicro loss expected i).Total)
                    let perRank =
                        onRanks 2 (fun r world ->
                            let micro = shards[r] |> List.map inputs
                            let norms = world.GlobalNormalisers(loss, ResizeArray micro) |> List.ofSeq
                            let local = if micro.IsEmpty then [] else Loss.normalisers loss micro
                            norms |> List.map (fun n -> scalarOf n.Tokens, scalarOf n.Sequences),
                            local |> List.map (fun n -> scalarOf n.Tokens, scalarOf n.Sequences),
                            micro |> List.sumBy (fun i -> scalarOf (loss.EvaluateMicro(norms, i)).Total))
                    let expectedCounts = expected |> List.map (fun n -> scalarOf n.Tokens, scalarOf n.Sequences)
                    for counts, _, _ in perRank do Expect.equal counts expectedCounts "every rank has the whole mini-batch's counts"
                    Expect.exists perRank (fun (_, local, _) -> local <> expectedCounts) "a rank's own counts differ (the test is not vacuous)"
                    let total = perRank |> Array.sumBy (fun (_, _, t) -> t)
                    Expect.floatClose tight total expectedTotal "the ranks' losses add up to the one-process loss"
                }
    ]

// ---------------------------------------------------------------------------------------------------------------
// Real jobs of the klear program.

let mpiexec = "/usr/bin/mpiexec.mpich"
let private mpiMissing = not (File.Exists mpiexec) || not (File.Exists "/usr/lib/x86_64-linux-gnu/libmpich.so.12")

/// 3 SFT steps (5 sequences over 2 ranks, validation on 5), 3 RL steps of 5 drawn groups (uneven over 2 ranks) of
/// which 3 are kept, 2 mini-batches of 3 micro-batches, the zero-advantage filter on, 5 evaluation problems.
let private tiny =
    [ "sft.steps=3"; "sft.batch_size=5"; "sft.val_examples=5"; "trainer.steps=3"; "trainer.eval_every=0"; "model.layers=1"
      "model.hidden=32"; "model.heads=2"; "model.kv_heads=1"; "trainer.prompts_per_step=3"; "trainer.oversample=1.5"
      "rollout.n=4"; "rollout.max_new_tokens=16"; "actor.mini_batches=2"; "actor.micro_batches=3"
      "algorithm.filter_zero_adv_groups=true"; "data.eval_problems=5"; "eval.k=2"; "eval.max_new_tokens=16" ]

let private fresh (tag: string) = Path.Combine(Path.GetTempPath(), $"klear-mpi-{tag}-" + Guid.NewGuid().ToString("N"))

let private oneProcess root args = Cli.run ([ "train"; "--output-dir"; root ] @ args)
let private ranks2 root args = Cli.runProcess mpiexec ([ "-n"; "2"; "dotnet"; Cli.klearDll; "train"; "--output-dir"; root ] @ args)

let private runDir root = Directory.GetDirectories root |> Array.exactlyOne

/// (phase, step, [key, value]) of every metrics row, timings left out.
let private rows (dir: string) =
    File.ReadAllLines(Path.Combine(dir, "metrics.jsonl"))
    |> Array.map (fun l ->
        let o = JsonNode.Parse(l).AsObject()
        o["phase"].GetValue<string>(), o["step"].GetValue<int>(),
        o |> Seq.filter (fun kv -> not (kv.Key.StartsWith "perf/") && kv.Key <> "phase" && kv.Key <> "step")
          |> Seq.map (fun kv -> kv.Key, kv.Value) |> List.ofSeq)

/// Float tolerance of a 2-rank run against one process: float32 sums taken in another order (|a - b| ≤ 1e-6 + 1e-4·|a|).
let private close (a: float) (b: float) = abs (a - b) <= 1e-6 + 1e-4 * abs a

let private sameMetrics (one: string) (two: string) =
    let a, b = rows one, rows two
    Expect.equal (b |> Array.map (fun (p, s, _) -> p, s)) (a |> Array.map (fun (p, s, _) -> p, s)) "the same rows"
    for (phase, step, xs), (_, _, ys) in Array.zip a b do
        Expect.equal (ys |> List.map fst) (xs |> List.map fst) $"{phase} {step}: the same metrics"
        for (key, x), (_, y) in List.zip xs ys do
            match x.GetValueKind(), y.GetValueKind() with
            | Text.Json.JsonValueKind.Number, Text.Json.JsonValueKind.Number ->
                let x, y = x.GetValue<float>(), y.GetValue<float>()
                if not (close x y) then failtestf "%s step %d %s: one process %.9g, 2 ranks %.9g" phase step key x y
            | _ -> Expect.equal (y.ToJsonString()) (x.ToJsonString()) $"{phase} {step} {key}"
    a

let private finalParameters (dir: string) =
    let latest = TrainingCheckpoint.Latest(Path.Combine(dir, "checkpoints"))
    use file = SafeTensorsFile.Open(Directory.GetFiles(Path.Combine(latest, "model"), "*.safetensors") |> Array.exactlyOne)
    file.Entries.Keys |> Seq.sort |> Seq.map (fun k -> k, values (file.ReadFloat32 k)) |> List.ofSeq

/// The two runs' final parameters: the same tensors, each element within 1e-6.
let private sameParameters (label: string) (dir1: string) (dir2: string) =
    let p1, p2 = finalParameters dir1, finalParameters dir2
    Expect.equal (List.map fst p2) (List.map fst p1) $"{label}: the same tensors"
    for (name, a), (_, b) in List.zip p1 p2 do
        let worst = Array.map2 (fun x y -> abs (x - y)) a b |> Array.max
        Expect.isLessThanOrEqual worst 1e-6 $"{label}: {name}: max |difference| = {worst}"

let private value key (_, _, kv: (string * JsonNode) list) =
    kv |> List.tryFind (fst >> (=) key) |> Option.map (fun (_, v) -> v.GetValue<float>())

let private equalityTest (name: string) (extra: string list) =
    test $"{name}: mpiexec -n 2 equals one process (metrics of every SFT/RL step and evaluation, final parameters)" {
        let root1, root2 = fresh "one", fresh "two"
        let args = tiny @ extra
        let one = oneProcess root1 args
        Expect.equal one.ExitCode 0 one.Stderr
        let two = ranks2 root2 args
        Expect.equal two.ExitCode 0 (two.Stdout + two.Stderr)
        Expect.stringContains two.Stdout "data parallel: 2 ranks" "ran as 2 ranks"
        let dir1, dir2 = runDir root1, runDir root2  // rank 1 made no directory of its own
        let logged = sameMetrics dir1 dir2
        let rl = logged |> Array.filter (fun (p, _, _) -> p = "rl")
        Expect.isNonEmpty rl "RL rows"
        Expect.all rl (fun r -> value "rl/kept_groups" r < value "rl/groups" r) "groups are dropped or left over every step (filter and choice)"
        Expect.exists rl (fun r -> (value "actor/pg_loss" r).IsSome) "an update ran (the comparison covers the loss)"
        if List.contains "algorithm.rollout_is=token" extra then
            Expect.exists rl (fun r -> value "rollout_corr/kl" r |> Option.exists (fun kl -> kl > 0.0)) "the sampler differed from the trainer"
        Expect.exists logged (fun (p, _, kv) -> p = "sft" && kv |> List.exists (fst >> (=) "sft/val_loss")) "SFT validation loss compared"
        sameParameters "one process vs 2 ranks" dir1 dir2
        for d in [ root1; root2 ] do Directory.Delete(d, true)
    }

let private rankPid (stderr: string) rank =
    stderr.Split('\n') |> Array.pick (fun l ->
        let m = Text.RegularExpressions.Regex.Match(l, $@"klear: rank {rank} of 2 is pid (\d+)")
        if m.Success then Some(int m.Groups[1].Value) else None)

/// `mpiexec -n 2 klear train` started in the background, its output collected as it comes.
let private startTwoRanks (root: string) (args: string list) =
    let psi = ProcessStartInfo(mpiexec, RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false)
    for a in [ "-n"; "2"; "dotnet"; Cli.klearDll; "train"; "--output-dir"; root ] @ args do psi.ArgumentList.Add a
    let p = Process.Start psi
    let stdout, stderr = Text.StringBuilder(), Text.StringBuilder()
    p.OutputDataReceived.Add(fun e -> if e.Data <> null then lock stdout (fun () -> stdout.AppendLine e.Data |> ignore))
    p.ErrorDataReceived.Add(fun e -> if e.Data <> null then lock stderr (fun () -> stderr.AppendLine e.Data |> ignore))
    p.BeginOutputReadLine()
    p.BeginErrorReadLine()
    p, stdout, stderr

let private faultAndResume =
    test "a rank killed mid-run ends the job at once (non-zero, rank named), leaves only whole checkpoints, and resumes under -n 2 to the uninterrupted run" {
        let args = tiny |> List.map (fun a -> if a = "trainer.steps=3" then "trainer.steps=10" else a) |> fun a -> a @ [ "trainer.save_every=1" ]
        let rootWhole, rootKilled = fresh "whole", fresh "killed"
        let whole = ranks2 rootWhole args
        Expect.equal whole.ExitCode 0 (whole.Stdout + whole.Stderr)
        let p, stdout, stderr = startTwoRanks rootKilled args
        use _ = p
        let latest () =
            (if Directory.Exists rootKilled then Directory.GetDirectories rootKilled else [||]) |> Array.tryHead
            |> Option.map (fun d -> Path.Combine(d, "checkpoints", "latest"))
            |> Option.filter File.Exists
            |> Option.map (fun f -> File.ReadAllText f)
        let deadline = DateTime.UtcNow.AddMinutes 2.0
        while (match latest () with Some l -> not (l.StartsWith "rl-" && l >= "rl-step-000003") | None -> true) && not p.HasExited && DateTime.UtcNow < deadline do
            Thread.Sleep 10
        Expect.isFalse p.HasExited "still running when rank 1 is killed"
        let pid = lock stderr (fun () -> rankPid (stderr.ToString()) 1)
        let clock = Stopwatch.StartNew()
        Process.GetProcessById(pid).Kill()
        Expect.isTrue (p.WaitForExit(TimeSpan.FromSeconds 15.0)) "the job ended within 15 s of the kill"
        p.WaitForExit()
        let seconds = clock.Elapsed.TotalSeconds
        Expect.notEqual p.ExitCode 0 "non-zero exit"
        let out = lock stdout (fun () -> stdout.ToString()) + lock stderr (fun () -> stderr.ToString())
        // mpiexec names the dead process by pid; each rank announced its pid at start, so the rank is named too.
        Expect.stringContains out $"PID {pid} " "mpiexec names the killed process"
        Expect.stringContains out $"klear: rank 1 of 2 is pid {pid}" "which is rank 1"
        Expect.isLessThan seconds 15.0 $"ended %.1f{seconds}s after the kill"
        let killedDir = runDir rootKilled
        Expect.isFalse (File.Exists(Path.Combine(killedDir, "report.json"))) "the killed run did not finish"
        let checkpoints = Path.Combine(killedDir, "checkpoints")
        for d in Directory.GetDirectories checkpoints |> Array.filter (fun d -> not (Path.GetFileName(d).StartsWith ".")) do
            for f in [ "state.json"; "optimizer.bin"; "config.yaml"; Path.Combine("model", "config.json") ] do
                Expect.isTrue (File.Exists(Path.Combine(d, f))) $"{Path.GetFileName d} is whole: {f}"
        let resumed = Cli.runProcess mpiexec [ "-n"; "2"; "dotnet"; Cli.klearDll; "train"; "--resume"; killedDir ]
        Expect.equal resumed.ExitCode 0 (resumed.Stdout + resumed.Stderr)
        Expect.stringContains resumed.Stdout "resuming from" "resumed"
        // Same ranks, same order of every sum: the resumed run repeats the uninterrupted one exactly.
        let text dir = rows dir |> Array.map (fun (p, s, kv) -> p, s, kv |> List.map (fun (k, v) -> k, v.ToJsonString()))
        Expect.equal (text killedDir) (text (runDir rootWhole)) "the resumed -n 2 run logs the uninterrupted -n 2 run's metrics"
        Expect.equal (finalParameters killedDir) (finalParameters (runDir rootWhole)) "and ends with its parameters"
        for d in [ rootWhole; rootKilled ] do Directory.Delete(d, true)
    }

/// A copy of a finished run cut back to its middle RL checkpoint, as if it had been stopped there.
let private cutBack (dir: string) (into: string) =
    Directory.CreateDirectory into |> ignore
    let copy = Path.Combine(into, Path.GetFileName dir)
    Cli.runProcess "cp" [ "-a"; dir; copy ] |> fun r -> Expect.equal r.ExitCode 0 r.Stderr
    let checkpoints = Path.Combine(copy, "checkpoints")
    let rl = Directory.GetDirectories(checkpoints, "rl-step-*") |> Array.sort
    let keep = rl[rl.Length / 2]
    for d in rl do if d > keep then Directory.Delete(d, true)
    File.WriteAllText(Path.Combine(checkpoints, "latest"), Path.GetFileName keep)
    File.Delete(Path.Combine(copy, "report.json"))
    copy

let private rankChange =
    test "--resume under another rank count: a 1-process checkpoint resumed by 2 ranks and a 2-rank one by 1 process finish as the uninterrupted run" {
        let args = tiny |> List.map (fun a -> if a = "trainer.steps=3" then "trainer.steps=6" else a) |> fun a -> a @ [ "trainer.save_every=1" ]
        let root1, root2, cuts = fresh "whole1", fresh "whole2", fresh "cut"
        let one = oneProcess root1 args
        Expect.equal one.ExitCode 0 one.Stderr
        let two = ranks2 root2 args
        Expect.equal two.ExitCode 0 (two.Stdout + two.Stderr)
        for whole, resume, how, folder in
                [ runDir root1, (fun d -> Cli.runProcess mpiexec [ "-n"; "2"; "dotnet"; Cli.klearDll; "train"; "--resume"; d ]), "1 process → 2 ranks", "from-one"
                  runDir root2, (fun d -> Cli.run [ "train"; "--resume"; d ]), "2 ranks → 1 process", "from-two" ] do
            let cut = cutBack whole (Path.Combine(cuts, folder))
            let r = resume cut
            Expect.equal r.ExitCode 0 $"{how}: {r.Stdout}{r.Stderr}"
            Expect.stringContains r.Stdout "resuming from" $"{how}: resumed"
            let rl = sameMetrics whole cut |> Array.filter (fun (p, _, _) -> p = "rl")
            Expect.equal rl.Length 6 $"{how}: every RL step logged once"
            sameParameters how whole cut
        for d in [ root1; root2; cuts ] do Directory.Delete(d, true)
    }

let private throwingRank =
    test "a rank that throws after the job started (its model does not fit the checkpoint) ends the whole job at once, naming the rank" {
        let args = tiny @ [ "trainer.save_every=1" ]
        let root, copies = fresh "throw", fresh "throw-copies"
        let one = oneProcess root args
        Expect.equal one.ExitCode 0 one.Stderr
        let good, other = cutBack (runDir root) (Path.Combine(copies, "good")), cutBack (runDir root) (Path.Combine(copies, "other"))
        // Rank 1 reads its settings from the other copy, whose stored config says hidden 48: a valid setting, so it
        // passes the checks before MPI starts; the ranks then share rank 0's run directory, and rank 1's 48-wide model
        // meets the 32-wide checkpoint.
        let config = Path.Combine(other, "checkpoints", File.ReadAllText(Path.Combine(other, "checkpoints", "latest")).Trim(), "config.yaml")
        let text = File.ReadAllText config
        Expect.stringContains text "  hidden: 32" "the stored config names the width"
        File.WriteAllText(config, text.Replace("  hidden: 32", "  hidden: 48"))
        let clock = Stopwatch.StartNew()
        let r = Cli.runProcess mpiexec [ "-n"; "1"; "dotnet"; Cli.klearDll; "train"; "--resume"; good; ":"; "-n"; "1"; "dotnet"; Cli.klearDll; "train"; "--resume"; other ]
        Expect.notEqual r.ExitCode 0 "non-zero exit"
        Expect.stringContains r.Stderr "klear: rank 1 of 2 failed, ending all 2 ranks" "the failing rank is named"
        Expect.isLessThan clock.Elapsed.TotalSeconds 60.0 "no hang"
        Expect.isFalse (File.Exists(Path.Combine(good, "report.json"))) "rank 0 did not finish alone"
        for d in [ root; copies ] do Directory.Delete(d, true)
    }

let private hungRank =
    test "a rank that hangs without dying (SIGSTOP) ends the job after trainer.collective_timeout_seconds, naming the waiting rank and the call" {
        let root = fresh "hung"
        let args = (tiny |> List.map (fun a -> if a = "trainer.steps=3" then "trainer.steps=40" else a)) @ [ "trainer.collective_timeout_seconds=10" ]
        let p, stdout, stderr = startTwoRanks root args
        use _ = p
        let deadline = DateTime.UtcNow.AddMinutes 2.0
        // Stop rank 1 once RL is under way (the first RL row is logged).
        let rlStarted () =
            (if Directory.Exists root then Directory.GetDirectories root else [||]) |> Array.tryHead
            |> Option.map (fun d -> Path.Combine(d, "metrics.jsonl")) |> Option.filter File.Exists
            |> Option.exists (fun f -> (try File.ReadAllText f with _ -> "").Contains "\"phase\":\"rl\"")
        while not (rlStarted ()) && not p.HasExited && DateTime.UtcNow < deadline do Thread.Sleep 20
        Expect.isFalse p.HasExited "still running when rank 1 is stopped"
        let pid = lock stderr (fun () -> rankPid (stderr.ToString()) 1)
        let stopped = Process.GetProcessById pid
        Cli.runProcess "kill" [ "-STOP"; string pid ] |> fun r -> Expect.equal r.ExitCode 0 r.Stderr
        let clock = Stopwatch.StartNew()
        let ended = p.WaitForExit(TimeSpan.FromSeconds 60.0)
        if not ended then p.Kill true
        Cli.runProcess "kill" [ "-KILL"; string pid ] |> ignore  // gone already if mpiexec ended it
        Expect.isTrue ended "the job ended within 60 s of the hang"
        p.WaitForExit()
        Expect.notEqual p.ExitCode 0 "non-zero exit"
        let err = lock stderr (fun () -> stderr.ToString())
        Expect.stringContains err "klear: rank 0 of 2 waited over 10 s in MPI_" "rank 0 names the wait"
        Expect.isGreaterThanOrEqual clock.Elapsed.TotalSeconds 9.0 "not before the timeout"
        Expect.isTrue (stopped.WaitForExit(10000)) "the stopped rank is gone too"
        Directory.Delete(root, true)
    }

/// `--ranks 2` starts the job under mpiexec itself: the same run as `mpiexec -n 2 ... train`, option removed for the ranks.
let private ranksOption =
    test "train --ranks 2 runs the job as 2 ranks under mpiexec and equals mpiexec -n 2 started by hand" {
        let root1, root2 = fresh "byhand", fresh "option"
        let byHand = ranks2 root1 tiny
        Expect.equal byHand.ExitCode 0 (byHand.Stdout + byHand.Stderr)
        let option = Cli.run ([ "train"; "--ranks"; "2"; "--output-dir"; root2 ] @ tiny)
        Expect.equal option.ExitCode 0 (option.Stdout + option.Stderr)
        Expect.stringContains option.Stdout "data parallel: 2 ranks" "ran as 2 ranks"
        Expect.equal (Text.RegularExpressions.Regex.Matches(option.Stderr, @"klear: rank \d of 2 is pid").Count) 2 "two ranks, none started more"
        Expect.isNonEmpty (sameMetrics (runDir root1) (runDir root2)) "every logged metric compared"
        for d in [ root1; root2 ] do Directory.Delete(d, true)
    }

/// The quickstart uses both cores by default where it can: 2 ranks on a machine with 2 cores and MPICH; --ranks 1
/// keeps one process.
let private quickstartDefault =
    test "quickstart without --ranks runs as 2 ranks on a 2-core machine; --ranks 1 as one process" {
        let run (extra: string list) =
            let root = fresh "qs"
            let r = Cli.run ([ "quickstart"; "--output-dir"; root ] @ extra @ tiny)
            Expect.equal r.ExitCode 0 (r.Stdout + r.Stderr)
            let report = JsonNode.Parse(File.ReadAllText(Path.Combine(runDir root, "report.json")))
            let ranks = match report.["ranks"] with null -> 1 | n -> n.GetValue<int>()
            Directory.Delete(root, true)
            ranks, r.Stderr
        let ranks, _ = run []
        Expect.equal ranks (if Environment.ProcessorCount >= 2 then 2 else 1) $"default on {Environment.ProcessorCount} cores"
        let one, stderr = run [ "--ranks"; "1" ]
        Expect.equal one 1 "--ranks 1"
        Expect.isFalse (stderr.Contains "rank 0 of") "no ranks started"
    }

let private jobs =
    if mpiMissing then
        testList "mpiexec -n 2" [
            test "system packages" {
                failtestf "the MPI tests need MPICH (%s), not found; run as root: apt-get install -y --no-install-recommends mpich (./test does this itself)" mpiexec
            }
        ]
    else
        testSequenced (
            testList "mpiexec -n 2" [
                equalityTest "token-mean, KL term on" [ "actor.loss_agg_mode=token-mean"; "actor.kl_loss_coef=0.01" ]
                equalityTest "seq-mean-token-mean" [ "actor.loss_agg_mode=seq-mean-token-mean" ]
                equalityTest "seq-mean-token-sum, entropy bonus on" [ "actor.loss_agg_mode=seq-mean-token-sum"; "actor.entropy_coeff=0.001" ]
                equalityTest "seq-mean-token-sum-norm" [ "actor.loss_agg_mode=seq-mean-token-sum-norm" ]
                // The sampler's log-probs travel with the gathered rollouts; the weights, the dropped rows and their
                // share of every normaliser must come out as in one process.
                equalityTest "token-sum, rollout correction (TIS + MIS) at top-p 0.9, truncated responses masked"
                    [ "actor.loss_agg_mode=token-sum"; "algorithm.rollout_is=token"; "algorithm.rollout_rs=sequence"
                      "rollout.top_p=0.9"; "actor.mask_truncated=true"; "reward.overlong_buffer_len=4"; "reward.overlong_penalty_factor=0.5" ]
                faultAndResume
                rankChange
                throwingRank
                hungRank
                ranksOption
                quickstartDefault
            ])

[<Tests>]
let tests = testList "data parallel" [ normaliserTests; jobs ]
