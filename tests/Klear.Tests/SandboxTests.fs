/// The sandbox, run for real: scoring of ordinary programs, the hostile suite (each contained, nothing left behind),
/// the pool, and the code reward through the registry, each in cold and in warm mode; then the risks of warm workers
/// alone (state left for the next run, a broken worker). Sequenced: each test owns the two cores while it runs.
module Klear.Tests.SandboxTests

open System
open System.Diagnostics
open System.IO
open System.Net
open System.Net.Sockets
open System.Threading
open Expecto
open Klear.Host.Data
open Klear.Host.Rewards
open Klear.Host.Rewards.Code
open Klear.Host.Rewards.Sandbox

/// Small limits so a hostile program that escaped one limit still hits another quickly. The address space is below
/// the cgroup's memory so each limit can be seen firing on its own.
let limitsOf useCgroups workDirBytes =
    SandboxLimits(
        UseCgroups = useCgroups,
        WallClock = TimeSpan.FromSeconds 3.0, CpuSeconds = 3, MemoryBytes = (512L <<< 20),
        AddressSpaceBytes = (384L <<< 20), MaxProcesses = 16, MaxOutputBytes = (64 <<< 10),
        MaxFileBytes = (1L <<< 20), WorkDirBytes = workDirBytes)

let limitsWith useCgroups = limitsOf useCgroups (8L <<< 20)

let limits = limitsWith true

/// Generous for a loaded 2-core machine: a bomb must reach its limit well before the clock stops it.
let hostileTimeout = Some (TimeSpan.FromSeconds 3.0)

let run (sb: PythonSandbox) (program: string) (stdin: string) (timeout: TimeSpan option) =
    sb.RunAsync(SandboxRequest(program, stdin, Option.toNullable timeout)).GetAwaiter().GetResult()

let procDirs () =
    Directory.GetDirectories "/proc" |> Array.filter (fun d -> string (Path.GetFileName d) |> Seq.forall Char.IsDigit)

let tryRead (f: string) = try File.ReadAllText f with _ -> ""

/// Live processes of one run, found by the run id the sandbox puts into their environment.
let processesOfRun (runId: string) =
    procDirs () |> Array.filter (fun d -> (tryRead (d + "/environ")).Contains("KLEAR_SANDBOX_RUN=" + runId))

let private parentOf (d: string) =
    tryRead (d + "/status")
    |> fun s -> s.Split('\n') |> Array.tryPick (fun l -> if l.StartsWith "PPid:" then Some(int (l.Substring(5).Trim())) else None)

/// Whether the process of /proc/PID may be this test's leftover: it descends from this test process, or it was orphaned
/// to the host's init (what an escaped process becomes). Other programs on the machine (a trainer scoring code,
/// another test run) have live sandboxes of their own under their own processes, and those are not counted.
let private ours (d: string) =
    let me = Environment.ProcessId
    let rec up pid depth =
        pid = me || (pid > 1 && depth < 64 && (match parentOf (sprintf "/proc/%d" pid) with Some p -> up p (depth + 1) | None -> false))
    match parentOf d with
    | Some 1 -> true
    | Some p -> up p 0
    | None -> false

/// A process's identity across time: its /proc directory and its start time (a reused PID has another start time).
let private identity (d: string) =
    let stat = tryRead (d + "/stat")
    let afterName = stat.Substring(stat.LastIndexOf ')' + 1).Split(' ', StringSplitOptions.RemoveEmptyEntries)
    if afterName.Length > 19 then Some(d, afterName[19]) else None

/// Those of the processes seen that are still there (same PID, same start time) after a grace period, polled.
/// Other tests of this process run sandboxes at the same time, and their processes are briefly zombies or alive under
/// this process too; a leak is what stays, so it is judged by persistence, not by a single look.
let persisting (seen: string[]) (grace: TimeSpan) =
    let ids = seen |> Array.choose identity
    let still () = ids |> Array.filter (fun (d, start) -> identity d = Some(d, start)) |> Array.map fst
    let sw = Stopwatch.StartNew()
    let mutable left = still ()
    while left.Length > 0 && sw.Elapsed < grace do
        Thread.Sleep 50
        left <- still ()
    left

/// Zombies owned by the sandbox uid under this test process (their environ is gone, so they are found by uid).
let sandboxZombies () =
    procDirs ()
    |> Array.filter (fun d ->
        let status = tryRead (d + "/status")
        status.Contains "State:\tZ" && status.Contains "Uid:\t65534" && ours d)

/// Live sandbox processes under this test process.
let sandboxProcesses () =
    procDirs () |> Array.filter (fun d -> (tryRead (d + "/environ")).Contains "KLEAR_SANDBOX_RUN=" && ours d)

let expectNothingLeft (r: SandboxResult) =
    Expect.isEmpty (processesOfRun r.RunId) $"no process of run {r.RunId} survives the run"
    Expect.isEmpty (persisting (sandboxZombies ()) (TimeSpan.FromSeconds 3.0)) "no zombie of the sandbox uid stays"

/// The host still forks and runs a process normally after the hostile program.
let expectHostFine () =
    use p = match Process.Start(ProcessStartInfo("/bin/true")) with null -> failtest "no process" | p -> p
    Expect.isTrue (p.WaitForExit 5000) "the host can still start a process"
    Expect.equal p.ExitCode 0 "/bin/true exits 0"

let hostile (mode: SandboxMode) name (program: string) (check: SandboxResult -> unit) =
    test name {
        use sb = new PythonSandbox(limits, mode)
        let sw = Stopwatch.StartNew()
        let r = run sb program "" hostileTimeout
        Expect.isLessThan sw.Elapsed.TotalSeconds 8.0 "the run returns promptly"
        check r
        expectNothingLeft r
        expectHostFine ()
    }

let evaluate (pool: SandboxPool) program (groundTruth: string) =
    CodeReward.EvaluateAsync(pool, program, CodeTests.Parse groundTruth).GetAwaiter().GetResult()

let statuses (e: CodeEvaluation) = e.Results |> Seq.map (fun r -> r.Status) |> List.ofSeq

let addTests = """{"inputs": ["1 2", "3 4", "10 20", "7 8"], "outputs": ["3", "7", "30", "15"], "timeout": 2}"""

let scoring (mode: SandboxMode) =
    testList "scoring" [
        test "correct, wrong, crashing, slow and partially correct programs score as expected" {
            use sb = new PythonSandbox(limits, mode)
            let pool = new SandboxPool(sb, 2)
            use _ = { new IDisposable with member _.Dispose() = pool.DisposeAsync().AsTask().Wait() }
            let correct = evaluate pool "a, b = map(int, input().split())\nprint(a + b)\n" addTests
            Expect.equal (correct.Passed, correct.Total, correct.AllPassed) (4, 4, true) "correct passes all"
            let wrong = evaluate pool "a, b = map(int, input().split())\nprint(a * b)\n" addTests
            Expect.equal (statuses wrong) (List.replicate 4 CodeTestStatus.Failed) "wrong fails all"
            let crash = evaluate pool "a, b = map(int, input().split())\nprint(a // 0)\n" addTests
            Expect.equal (statuses crash) (List.replicate 4 CodeTestStatus.Error) "crash is an error"
            Expect.stringContains crash.Results[0].Run.Stderr "ZeroDivisionError" "the traceback is captured"
            let slow = evaluate pool "import time\ntime.sleep(30)\n" """{"inputs": ["1 2"], "outputs": ["3"], "timeout": 1}"""
            Expect.equal (statuses slow) [ CodeTestStatus.Timeout ] "slow times out"
            Expect.isLessThan slow.Results[0].Run.Elapsed.TotalSeconds 3.0 "killed near its 1 s timeout"
            let partial = evaluate pool "a, b = map(int, input().split())\nprint(a + b if a < 5 else 0)\n" addTests
            Expect.equal (statuses partial) [ CodeTestStatus.Passed; CodeTestStatus.Passed; CodeTestStatus.Failed; CodeTestStatus.Failed ] "half right"
            Expect.equal (CodeReward.Score(CodeRewardMode.PassRatio, partial.PassRatio, partial.AllPassed)) 0.5 "soft = pass ratio"
            Expect.equal (CodeReward.Score(CodeRewardMode.SignedPassRatio, partial.PassRatio, partial.AllPassed)) 0.0 "2·ratio − 1"
            Expect.equal (CodeReward.Score(CodeRewardMode.AllOrNothing, partial.PassRatio, partial.AllPassed)) 0.0 "hard"
            Expect.equal (CodeReward.Score(CodeRewardMode.AllOrNothing, correct.PassRatio, correct.AllPassed)) 1.0 "hard, all passed"
        }
        test "functional asserts: passing, failing and crashing snippets" {
            use sb = new PythonSandbox(limits, mode)
            let pool = new SandboxPool(sb, 2)
            use _ = { new IDisposable with member _.Dispose() = pool.DisposeAsync().AsTask().Wait() }
            let gt = """{"functional": ["assert add(1, 2) == 3", "assert add(2, 2) == 5", "assert add(None, 1) == 1"]}"""
            let e = evaluate pool "def add(a, b):\n    return a + b\n" gt
            Expect.equal (statuses e) [ CodeTestStatus.Passed; CodeTestStatus.Failed; CodeTestStatus.Error ] "assert verdicts"
        }
        test "a missing interpreter is refused with install instructions, never run bare" {
            let message =
                try
                    use _ = new PythonSandbox(SandboxLimits(PythonPath = "/nonexistent/python3"))
                    "constructed"
                with :? SandboxUnavailableException as e -> e.Message
            Expect.stringContains message "apt-get install" "refuses and says how to install"
            Expect.contains (PythonSandbox.MissingTools(true, "/nonexistent/python3")) "/nonexistent/python3" "names it"
        }
    ]

let hostileSuite (mode: SandboxMode) =
    let hostile = hostile mode
    testList "hostile" [
        test "connect to a host port on 127.0.0.1: refused, the listener sees nothing" {
            let listener = new TcpListener(IPAddress.Loopback, 0)
            listener.Start()
            try
                let port = (listener.LocalEndpoint :?> IPEndPoint).Port
                use sb = new PythonSandbox(limits, mode)
                let program =
                    $"import socket\ntry:\n    socket.create_connection(('127.0.0.1', {port}), timeout=1)\n    print('connected')\n" +
                    "except OSError as e:\n    print('blocked', e.errno)\n"
                let r = run sb program "" hostileTimeout
                Expect.stringStarts r.Stdout "blocked" $"no connection (stdout {r.Stdout}, stderr {r.Stderr})"
                Thread.Sleep 100
                Expect.isFalse (listener.Pending()) "the host listener got no connection"
                expectNothingLeft r
            finally listener.Stop()
        }
        test "DNS lookup: no resolver config, and a query to a host resolver on 127.0.0.1 never arrives" {
            use resolver = new UdpClient(IPEndPoint(IPAddress.Loopback, 0))
            let port = match resolver.Client.LocalEndPoint with :? IPEndPoint as e -> e.Port | _ -> failtest "no port"
            use sb = new PythonSandbox(limits, mode)
            // A well-formed DNS query for example.com, sent to a fake resolver this test owns on the host's loopback.
            let program =
                "import os, socket\nprint('resolv.conf' if os.path.exists('/etc/resolv.conf') else 'no-resolv')\n" +
                "q = bytes.fromhex('123401000001000000000000076578616d706c6503636f6d0000010001')\n" +
                $"s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)\ns.settimeout(1)\ns.sendto(q, ('127.0.0.1', {port}))\n" +
                "try:\n    s.recvfrom(512)\n    print('answered')\nexcept OSError as e:\n    print('no-answer')\n"
            let r = run sb program "" hostileTimeout
            Expect.equal (r.Stdout.Split('\n').[0]) "no-resolv" "no /etc/resolv.conf inside"
            Thread.Sleep 100
            Expect.equal resolver.Available 0 "the host-side resolver received no datagram"
            expectNothingLeft r
        }
        hostile "write outside the work dir: only /tmp (private tmpfs) is writable"
            ("import os\nok = []\n" +
             "for p in ['/x', '/usr/x', '/sandbox/main.py', '/sandbox/x', '/etc/x', '/root/x', '/work/x', '/proc/x', '/dev/x', '/tmp/x']:\n" +
             "    try:\n        open(p, 'w').write('pwned')\n        ok.append(p)\n    except OSError:\n        pass\nprint(ok)\n")
            (fun r ->
                Expect.equal (r.Stdout.Trim()) "['/tmp/x']" $"only the work dir takes writes (stderr {r.Stderr})"
                Expect.isFalse (File.Exists "/x" || File.Exists "/usr/x" || File.Exists "/tmp/x") "nothing landed on the host")
        hostile "read the repo, the home dir, /etc: none of it is visible"
            ("import os\nseen = [p for p in ['/work', '/root', '/home', '/etc/passwd', '/etc/shadow', '/opt', '/var', '/run'] if os.path.exists(p)]\n" +
             "print(seen, sorted(os.listdir('/')))\n")
            (fun r ->
                Expect.stringStarts r.Stdout "[] " $"no host path exists (stdout {r.Stdout}, stderr {r.Stderr})"
                Expect.stringContains r.Stdout "'usr'" "only the minimal root is there")
        hostile "fork bomb: stopped at the per-sandbox process limit"
            ("import os, time\nfor _ in range(10000):\n    try:\n        os.fork()\n    except OSError:\n        time.sleep(0.05)\n")
            (fun r ->
                // Without writable cgroups the uid-wide RLIMIT_NPROC contains it instead (tested on its own below).
                if r.ProcessLimitHit |> not then
                    Expect.isFalse (PythonSandbox.CgroupsAvailable) $"pids.max was hit (termination {r.Termination}, stderr {r.Stderr})")
        test "fork bomb without cgroups: the uid-wide RLIMIT_NPROC stops it (setpriv makes it apply)" {
            use sb = new PythonSandbox(limitsWith false, mode)
            Expect.isFalse sb.UsesCgroups "cgroups off"
            let program =
                "import os, time\nn = 0\nfor _ in range(200):\n    try:\n        if os.fork() == 0:\n            time.sleep(3)\n            os._exit(0)\n        n += 1\n" +
                "    except OSError:\n        break\nprint(n)\n"
            let r = run sb program "" hostileTimeout
            Expect.isLessThanOrEqual (int (r.Stdout.Trim())) 16 $"forks stop at the 16-process limit (stdout {r.Stdout}, stderr {r.Stderr})"
            expectNothingLeft r
            expectHostFine ()
        }
        hostile "the limits are in force inside, as the unprivileged uid"
            "import os\nprint(os.getuid(), os.getgid(), os.getgroups())\nprint(open('/proc/self/limits').read())\n"
            (fun r ->
                let line (name: string) = r.Stdout.Split('\n') |> Array.find (fun l -> l.StartsWith name)
                let values (name: string) = (line name).Substring(26).Split(' ', StringSplitOptions.RemoveEmptyEntries) |> Array.take 2
                Expect.stringStarts r.Stdout "65534 65534 []" "nobody, no supplementary groups"
                Expect.equal (values "Max address space") [| string (384L <<< 20); string (384L <<< 20) |] "RLIMIT_AS soft = hard"
                Expect.equal (values "Max cpu time") [| "3"; "4" |] "RLIMIT_CPU from the 3 s timeout, hard one above"
                Expect.equal (values "Max file size") [| string (1L <<< 20); string (1L <<< 20) |] "RLIMIT_FSIZE"
                Expect.equal (values "Max open files") [| "64"; "64" |] "RLIMIT_NOFILE"
                Expect.equal (values "Max core file size") [| "0"; "0" |] "no core dumps")
        hostile "memory bomb: one process hits its address-space limit"
            "x = []\nwhile True:\n    x.append(bytearray(50 << 20))\n"
            (fun r ->
                Expect.notEqual r.ExitCode 0 $"the bomb does not finish ({r.Termination}, {r.Elapsed}, stderr {r.Stderr})"
                Expect.stringContains r.Stderr "MemoryError" $"python gets MemoryError from RLIMIT_AS ({r.Termination}, {r.Elapsed})")
        hostile "memory bomb across processes: the sandbox's memory cgroup stops the total"
            ("import os, time\nfor _ in range(6):\n    if os.fork() == 0:\n        x = b'x' * (300 << 20)\n        time.sleep(10)\n        os._exit(0)\n" +
             "for _ in range(6):\n    os.wait()\nprint('done')\n")
            (fun r ->
                Expect.isTrue (r.Termination = SandboxTermination.MemoryLimit || r.TimedOut && not PythonSandbox.CgroupsAvailable)
                    $"the OOM killer or the timeout ends it (termination {r.Termination}, stderr {r.Stderr})")
        hostile "CPU spin: killed at the timeout"
            "while True:\n    pass\n"
            (fun r ->
                Expect.isTrue r.TimedOut $"timed out (termination {r.Termination})"
                Expect.isLessThan r.Elapsed.TotalSeconds 5.0 "near the 3 s limit")
        hostile "sleep past the timeout: killed at the wall clock"
            "import time\ntime.sleep(60)\nprint('woke')\n"
            (fun r ->
                Expect.equal r.Termination SandboxTermination.WallClockTimeout "wall-clock timeout"
                Expect.isFalse (r.Stdout.Contains "woke") "never woke")
        hostile "flood stdout: killed at the output cap, capture bounded"
            "import sys\nwhile True:\n    sys.stdout.write('x' * 65536)\n"
            (fun r ->
                Expect.equal r.Termination SandboxTermination.OutputLimit "output limit"
                Expect.isLessThanOrEqual r.Stdout.Length (64 <<< 10) "capture stays under the cap")
        hostile "a huge file: RLIMIT_FSIZE stops one file, the tmpfs size stops many"
            ("import os\ntry:\n    with open('/tmp/big', 'wb') as f:\n        f.write(b'x' * (5 << 20))\nexcept OSError as e:\n    print('fsize', e.errno)\n" +
             "print(os.path.getsize('/tmp/big'))\n" +
             "try:\n    for i in range(64):\n        open(f'/tmp/f{i}', 'wb').write(b'x' * (1000 << 10))\nexcept OSError as e:\n    print('full', e.errno, i)\n")
            (fun r ->
                let lines = r.Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries)
                Expect.stringStarts lines[0] "fsize 27" $"EFBIG (stdout {r.Stdout}, stderr {r.Stderr})"
                Expect.isLessThanOrEqual (int64 lines[1]) (1L <<< 20) "the file stopped at 1 MiB"
                Expect.stringStarts lines[2] "full 28" "ENOSPC on the 8 MiB work dir")
        hostile "a double-forked daemon does not outlive the run"
            ("import os, time, sys\nif os.fork() == 0:\n    os.setsid()\n    if os.fork() == 0:\n        import signal\n        signal.signal(signal.SIGHUP, signal.SIG_IGN)\n" +
             "        sys.stdout.close()\n        time.sleep(30)\n        os._exit(0)\n    os._exit(0)\nos.wait()\nprint('parent done')\n")
            (fun r ->
                Expect.equal (r.Stdout.Trim()) "parent done" $"the parent finished (stderr {r.Stderr})"
                Expect.equal r.Termination SandboxTermination.Exited "returned at the parent's exit, not a timeout")
        hostile "killing the parent (and everything else it can signal) does not break the run"
            ("import os, signal, sys\nfor pid in [os.getppid(), 1]:\n    try:\n        os.kill(pid, signal.SIGKILL)\n    except OSError as e:\n        print('denied', pid, e.errno)\n" +
             "try:\n    os.kill(-1, signal.SIGKILL)\nexcept OSError:\n    pass\nprint('alive')\n")
            (fun r ->
                Expect.stringContains r.Stdout "alive" $"the program's own output is kept (stderr {r.Stderr})"
                Expect.equal (r.Termination, r.ExitCode) (SandboxTermination.Exited, 0) "pid 1 ignored SIGKILL from inside; kill(-1) found no one else")
        hostile "changing limits from inside: hard limits cannot be raised, privileges cannot be regained"
            ("import os, resource\nfor name in ['RLIMIT_AS', 'RLIMIT_NPROC', 'RLIMIT_CPU', 'RLIMIT_FSIZE', 'RLIMIT_NOFILE']:\n" +
             "    lim = getattr(resource, name)\n    soft, hard = resource.getrlimit(lim)\n" +
             "    try:\n        resource.setrlimit(lim, (resource.RLIM_INFINITY, resource.RLIM_INFINITY))\n        print(name, 'raised')\n" +
             "    except (ValueError, OSError):\n        print(name, 'denied')\n" +
             "for f in [lambda: os.setuid(0), lambda: os.setgid(0)]:\n    try:\n        f()\n        print('uid raised')\n    except OSError:\n        print('uid denied')\n")
            (fun r ->
                Expect.isFalse (r.Stdout.Contains "raised") $"nothing was raised: {r.Stdout} {r.Stderr}"
                Expect.equal (r.Stdout.Split("denied").Length - 1) 7 "all seven attempts denied")
    ]

let pool (mode: SandboxMode) =
    testList "pool" [
        test "40 concurrent requests: every result belongs to its own request" {
            use sb = new PythonSandbox(limits, mode)
            let pool = new SandboxPool(sb, 2)
            use _ = { new IDisposable with member _.Dispose() = pool.DisposeAsync().AsTask().Wait() }
            // Runs finish out of order (random sleeps), so a mix-up would show as a wrong echo.
            let program = "import sys, time, random\ns = sys.stdin.read()\ntime.sleep(random.random() * 0.05)\nprint(s.strip() * 2)\n"
            let requests = [ for i in 0 .. 39 -> SandboxRequest(program, $"r{i}-") ]
            let results = pool.RunAllAsync(requests).GetAwaiter().GetResult()
            for i in 0 .. 39 do
                Expect.equal (results[i].Stdout.Trim()) $"r{i}-r{i}-" $"result {i} is request {i}'s"
            Expect.equal (results |> Seq.map (fun r -> r.RunId) |> Seq.distinct |> Seq.length) 40 "distinct runs"
        }
        test "cancelling one queued request leaves the others' results intact" {
            use sb = new PythonSandbox(limits, mode)
            let pool = new SandboxPool(sb, 1)
            use _ = { new IDisposable with member _.Dispose() = pool.DisposeAsync().AsTask().Wait() }
            use cts = new CancellationTokenSource()
            let first = pool.RunAsync(SandboxRequest("import time\ntime.sleep(0.5)\nprint('first')\n", ""))
            let cancelled = pool.RunAsync(SandboxRequest("print('second')\n", ""), cts.Token)
            let third = pool.RunAsync(SandboxRequest("print('third')\n", ""))
            cts.Cancel()
            Expect.isTrue (try cancelled.Wait 200 |> ignore; false with :? AggregateException -> cancelled.IsCanceled) "cancelled while queued, at once"
            Expect.equal (first.Result.Stdout.Trim()) "first" "the running request finishes"
            Expect.equal (third.Result.Stdout.Trim()) "third" "the next queued request runs"
        }
        test "cancellation kills running programs, cancels queued ones and leaves nothing" {
            use sb = new PythonSandbox(limits, mode)
            use cts = new CancellationTokenSource()
            let pool = new SandboxPool(sb, 2, cts.Token)
            let tasks = [ for _ in 1 .. 6 -> pool.RunAsync(SandboxRequest("import time\nprint('started', flush=True)\ntime.sleep(30)\n", "")) ]
            let started = Stopwatch.StartNew()
            while (sandboxProcesses ()).Length < 2 && started.Elapsed.TotalSeconds < 10.0 do Thread.Sleep 50
            Thread.Sleep 200
            let running = sandboxProcesses ()
            Expect.isGreaterThanOrEqual running.Length 2 "the pool's two programs are running"
            let sw = Stopwatch.StartNew()
            cts.Cancel()
            for t in tasks do
                Expect.isTrue (try t.Wait(5000) |> ignore; t.IsCanceled with :? AggregateException -> t.IsCanceled) "cancelled"
            pool.DisposeAsync().AsTask().Wait()
            Expect.isLessThan sw.Elapsed.TotalSeconds 3.0 "shut down promptly"
            Expect.isEmpty (persisting running (TimeSpan.FromSeconds 2.0)) "no sandbox process that ran at the cancel is left"
            let late = pool.RunAsync(SandboxRequest("print(1)", ""))
            Expect.isTrue (try late.Wait(1000) |> ignore; false with :? AggregateException -> late.IsFaulted) "a shut-down pool refuses work"
        }
    ]

let rewards (mode: SandboxMode) =
    testList "code reward" [
        test "registry: code data_sources score through the sandbox; teacher answers pass, buggy ones get partial credit" {
            use sb = new PythonSandbox(limits, mode)
            let pool = new SandboxPool(sb, 2)
            use _ = { new IDisposable with member _.Dispose() = pool.DisposeAsync().AsTask().Wait() }
            let soft = RewardRegistry.WithCode(CodeReward(pool, CodeRewardMode.PassRatio))
            let signed = RewardRegistry.WithCode(CodeReward(pool, CodeRewardMode.SignedPassRatio))
            let problems = SyntheticCodeTask.Generate(7, 4)
            let mutable partial = 0
            for p in problems do
                let good = soft.ScoreAsync("synthetic-code", SyntheticCodeTask.TeacherResponse p, p.GroundTruth()).GetAwaiter().GetResult()
                Expect.equal (good.Score, good.Correct) (1.0, true) $"teacher solves {p.Family}"
                let bad = soft.ScoreAsync("synthetic-code", SyntheticCodeTask.TeacherResponse(p, true), p.GroundTruth()).GetAwaiter().GetResult()
                Expect.isFalse (bad.Correct && bad.Score < 1.0) "correct means all passed"
                if bad.Score > 0.0 && bad.Score < 1.0 then partial <- partial + 1
                let badSigned = signed.ScoreAsync("code", SyntheticCodeTask.TeacherResponse(p, true), p.GroundTruth()).GetAwaiter().GetResult()
                Expect.floatClose Accuracy.veryHigh badSigned.Score (2.0 * bad.Score - 1.0) "signed = 2·ratio − 1"
            Expect.isGreaterThan partial 0 "the buggy teacher earns partial credit somewhere"
            let noCode = soft.ScoreAsync("livecodebench", "<think>hmm</think> no code here", problems[0].GroundTruth()).GetAwaiter().GetResult()
            Expect.equal (noCode.Score, noCode.Correct) (0.0, false) "format error scores the minimum"
            Expect.isSome (Option.ofObj noCode.FormatError) "and says why"
        }
        test "wrong tests: the teacher's correct program fails exactly the marked tests of corrupted problems and passes every clean one" {
            use sb = new PythonSandbox(limits, mode)
            let pool = new SandboxPool(sb, 2)
            use _ = { new IDisposable with member _.Dispose() = pool.DisposeAsync().AsTask().Wait() }
            let problems = SyntheticCodeTask.Generate(5, 10, 0.4)
            Expect.equal (problems |> Seq.filter (fun p -> p.HasWrongTests) |> Seq.length) 4 "4 of 10 corrupted"
            for p in problems do
                let struct (program, _) = CodeExtraction.Extract(SyntheticCodeTask.TeacherResponse p)
                let e = evaluate pool program (p.GroundTruth())
                let failed = [ for r in e.Results do if r.Status <> CodeTestStatus.Passed then r.Index ]
                Expect.equal failed (List.ofSeq p.WrongTests) $"{p.Family} #{p.Index}: the failing tests are the wrong ones"
                Expect.isTrue (e.Results |> Seq.forall (fun r -> r.Status = CodeTestStatus.Passed || r.Status = CodeTestStatus.Failed)) "wrong answers, not crashes"
                Expect.equal e.AllPassed (not p.HasWrongTests) "full reward exactly on clean problems"
        }
    ]

/// The same worker serves run after run: these find whatever one run could leave for the next.
let warmWorkers =
    let mode = SandboxMode.Warm
    let sequential (sb: PythonSandbox) programs = [ for p in programs -> run sb p "" hostileTimeout ]
    testList "warm workers" [
        test "files, daemons, SysV IPC, keys and message queues of one run are gone for the next" {
            use sb = new PythonSandbox(limits, mode)
            let leave =
                "import os, time, ctypes\nlibc = ctypes.CDLL(None, use_errno=True)\n" +
                "open('/tmp/left', 'w').write('secret')\nos.makedirs('/tmp/d/e')\nos.chmod('/tmp/d', 0)\n" +
                "if os.fork() == 0:\n    os.setsid()\n    if os.fork() == 0:\n        time.sleep(30)\n        os._exit(0)\n    os._exit(0)\nos.wait()\n" +
                "print('shm', libc.shmget(0x4b4c, 4096, 0o1666) >= 0)\n" +
                "print('key', libc.syscall(248, b'user', b'klear-leak', b'secret', 6, -4) > 0)\n" +
                "try:\n    q = ctypes.CDLL('librt.so.1', use_errno=True).mq_open(b'/leak', 0o102, 0o600, None)\nexcept OSError:\n    q = -1\nprint('mq', q >= 0)\n"
            let look =
                "import os, ctypes\nlibc = ctypes.CDLL(None, use_errno=True)\n" +
                "print(os.listdir('/tmp'), sorted(int(p) for p in os.listdir('/proc') if p.isdigit() and int(p) != os.getpid()))\n" +
                "print(len(open('/proc/sysvipc/shm').read().splitlines()) - 1, libc.syscall(250, 10, -4, b'user', b'klear-leak', 0), ctypes.CDLL('librt.so.1').mq_open(b'/leak', 0))\n"
            match sequential sb [ leave; look ] with
            | [ first; second ] ->
                Expect.equal (first.Stdout.Split('\n') |> Array.filter ((<>) "")) [| "shm True"; "key True"; "mq True" |]
                    $"the first run made its shm segment, key and message queue (stderr {first.Stderr})"
                Expect.isGreaterThanOrEqual first.Survivors 1 "the daemon was found and killed after the run"
                Expect.equal (second.Stdout.Split('\n') |> Array.take 2) [| "[] [1]"; "0 -1 -1" |]
                    $"the second run sees an empty /tmp, no process but its init, no shm segment, key or queue (stderr {second.Stderr})"
                Expect.equal (sb.WorkersStarted, sb.ColdReruns) (1, 0) "both ran on the same worker"
                expectNothingLeft first
            | _ -> failtest "two results"
        }
        test "one run's stdin and output are not in the next run's memory (forked from the worker)" {
            use sb = new PythonSandbox(limits, mode)
            let secret = "KLEARSECRET" + Guid.NewGuid().ToString("N")[..15]
            let echo = run sb "import sys\ndata = sys.stdin.read()\nprint(data.upper(), data, file=sys.stderr)\nprint(data * 3)\n" (secret.ToLowerInvariant()) hostileTimeout
            Expect.stringContains echo.Stdout (secret.ToLowerInvariant()) "the first run saw its input"
            // Scans every readable mapping of its own address space for the prefix followed by 16 hex digits; the
            // pattern is assembled at run time so the program text itself cannot match.
            let scan =
                "import re\npat = re.compile(('klear' + 'secret').encode() + b'[0-9a-f]{16}', re.I)\nfound = set()\n" +
                "with open('/proc/self/maps') as maps, open('/proc/self/mem', 'rb', 0) as mem:\n" +
                "    for line in maps:\n        parts = line.split()\n        if parts[1][0] != 'r' or (len(parts) > 5 and parts[5] in ('[vvar]', '[vsyscall]', '[vvar_vclock]')):\n            continue\n" +
                "        lo, hi = (int(x, 16) for x in parts[0].split('-'))\n        try:\n            mem.seek(lo)\n            found.update(m.group().decode().upper() for m in pat.finditer(mem.read(hi - lo)))\n        except (OSError, ValueError, OverflowError):\n            pass\n" +
                "print(sorted(found))\n"
            let r = run sb scan "" hostileTimeout
            Expect.equal r.Termination SandboxTermination.Exited $"the scan ran (stderr {r.Stderr})"
            Expect.isFalse (r.Stdout.Contains(secret.ToUpperInvariant())) $"the secret is nowhere in the next run's memory: {r.Stdout}"
            Expect.equal (sb.WorkersStarted, sb.ColdReruns) (1, 0) "same worker"
        }
        test "a warm run looks to the program like a cold one: interpreter state, process tree, files, tracebacks" {
            use warm = new PythonSandbox(limits, SandboxMode.Warm)
            use cold = new PythonSandbox(limits, SandboxMode.Cold)
            let program =
                "import os, sys\nm = sys.modules['__main__']\n" +
                "print(sys.argv, sys.orig_argv[1:], sys.flags.isolated, sys.flags.dont_write_bytecode, sorted(sys.modules))\n" +
                "print(sorted(vars(m)), type(m.__loader__).__name__, m.__spec__, m.__file__)\n" +
                "print(os.getpid(), os.getppid(), os.getpgrp() == os.getpid(), os.getsid(0) == os.getpid(), os.getuid(), os.getgid(), os.getcwd())\n" +
                "print(sorted(os.environ.items(), key=lambda kv: kv[0]) == sorted(dict(os.environ, KLEAR_SANDBOX_RUN='x').items()), sorted(k for k in os.environ if k != 'KLEAR_SANDBOX_RUN'))\n" +
                "print(sorted(os.listdir('/')), sorted(os.listdir('/tmp')), oct(os.stat('/tmp').st_mode), [p for p in os.listdir('/proc') if p.isdigit()])\n" +
                "print(sys.stdin.encoding, sys.stdin.errors, sys.stdout.errors, sys.stdout.line_buffering, sys.stderr.line_buffering, sys.stdin.seekable())\n" +
                "print([l for l in open('/proc/self/status') if l.startswith(('Cap', 'NoNewPrivs', 'Seccomp:'))])\n" +
                "print(sorted(l[:26].strip() + ' ' + ' '.join(l[26:].split()[:2]) for l in open('/proc/self/limits') if not l.startswith('Limit')))\n" +
                "print(input())\nimport signal\nprint(signal.getsignal(signal.SIGINT).__name__, signal.getsignal(signal.SIGPIPE), signal.getsignal(signal.SIGXFSZ))\n" +
                "def f():\n    raise ValueError('boom')\nf()\n"
            // Not a hostile program: a generous clock, so a loaded machine cannot cut a run short between its
            // traceback and the final flush of stdout (which once made the cold output one line short).
            let w = run warm program "line" (Some(TimeSpan.FromSeconds 30.0))
            let c = run cold program "line" (Some(TimeSpan.FromSeconds 30.0))
            Expect.equal (w.Termination, c.Termination) (SandboxTermination.Exited, SandboxTermination.Exited) "both ran to their end"
            let lines (r: SandboxResult) = (r.Stdout + r.Stderr).Split('\n')
            for i, (wl, cl) in Seq.indexed (Seq.zip (lines w) (lines c)) do
                Expect.equal wl cl $"line {i + 1} of the output: warm, then cold"
            Expect.equal (lines w).Length (lines c).Length "as many lines"
            Expect.equal w.ExitCode c.ExitCode "same exit code"
            Expect.equal c.ExitCode 1 "the uncaught exception exits 1"
        }
        test "module state (sys, builtins, imported modules) and random seeds do not carry over" {
            use sb = new PythonSandbox(limits, mode)
            let set = "import sys, builtins, json\nsys.klear_leak = 1\nbuiltins.klear_leak = 2\njson.klear_leak = 3\nsys.path.append('/tmp')\nimport random\nprint(random.random())\n"
            let look =
                "import sys, builtins\nprint('json' in sys.modules, hasattr(sys, 'klear_leak'), hasattr(builtins, 'klear_leak'), '/tmp' in sys.path)\n" +
                "import json, random\nprint(hasattr(json, 'klear_leak'), random.random())\n"
            match sequential sb [ set; look; look ] with
            | [ first; second; third ] ->
                let lines (r: SandboxResult) = r.Stdout.Split('\n')
                Expect.equal ((lines second)[0]) "False False False False" $"nothing of the first run's modules (stderr {second.Stderr})"
                Expect.stringStarts ((lines second)[1]) "False " "json is a fresh import"
                let drawn (r: SandboxResult) = ((lines r)[1]).Split(" ")[1]
                let seeds = [ (lines first)[0]; drawn second; drawn third ]
                Expect.equal (List.distinct seeds |> List.length) 3 $"every run draws different random numbers: {seeds}"
                Expect.equal sb.WorkersStarted 1 "one worker"
            | _ -> failtest "three results"
        }
        test "the worker (pid 1) cannot be ptraced, its memory and fds cannot be opened, signals do not reach it" {
            use sb = new PythonSandbox(limits, mode)
            let program =
                "import os, ctypes, signal\nlibc = ctypes.CDLL(None, use_errno=True)\n" +
                "for path in ['/proc/1/mem', '/proc/1/environ', '/proc/1/fd/1']:\n    try:\n        open(path, 'rb').read(1)\n        print('read', path)\n    except OSError as e:\n        print('denied', path, e.errno)\n" +
                "try:\n    os.listdir('/proc/1/fd')\n    print('listed fds')\nexcept OSError:\n    print('denied fd list')\n" +
                "for req in (16, 0x4206):\n    print('ptrace', req, libc.ptrace(req, 1, 0, 0), ctypes.get_errno())\n" +
                "for sig in (signal.SIGKILL, signal.SIGSTOP, signal.SIGTERM, signal.SIGINT):\n    os.kill(1, sig)\n" +
                "try:\n    os.kill(-1, signal.SIGKILL)\nexcept OSError:\n    pass\nprint('alive')\n"
            let r = run sb program "" hostileTimeout
            Expect.isFalse (r.Stdout.Contains "read /" || r.Stdout.Contains "listed") $"no access to the worker: {r.Stdout} {r.Stderr}"
            Expect.stringContains r.Stdout "ptrace 16 -1 1\nptrace 16902 -1 1" "PTRACE_ATTACH and PTRACE_SEIZE: EPERM"
            Expect.stringContains r.Stdout "alive" "the program went on"
            let next = run sb "print('next')" "" hostileTimeout
            Expect.equal (next.Stdout, sb.WorkersStarted, sb.ColdReruns) ("next\n", 1, 0) "the worker lived on, untouched"
        }
        test "a worker killed mid-run: that run's result comes from a cold re-run, the next run gets a new worker" {
            // A work-dir size no other sandbox uses: it is the zygote's last argument, so this test finds its own
            // worker among those of tests running alongside.
            let tag = (8L <<< 20) + 4096L * 7919L
            use sb = new PythonSandbox(limitsOf true tag, mode)
            let pending = sb.RunAsync(SandboxRequest("import sys, time\ntime.sleep(1)\nprint(sys.stdin.read() * 2)\n", "ab"))
            Thread.Sleep 400
            // bwrap's monitor is our child; the zygote is its child.
            let me = Environment.ProcessId
            let parent (d: string) = (tryRead (d + "/stat")).Split(')') |> Array.last |> fun s -> s.Split(' ', StringSplitOptions.RemoveEmptyEntries) |> Array.tryItem 1
            let monitors = procDirs () |> Array.filter (fun d -> parent d = Some (string me)) |> Array.map Path.GetFileName
            let zygotes =
                procDirs ()
                |> Array.filter (fun d ->
                    parent d |> Option.exists (fun p -> Array.contains p monitors)
                    && (tryRead (d + "/environ")).Contains "KLEAR_SANDBOX_ZYG="
                    && (tryRead (d + "/cmdline")).TrimEnd('\000').EndsWith("\000" + string tag))
            Expect.equal zygotes.Length 1 "one worker"
            Process.GetProcessById(int (Path.GetFileName zygotes[0])).Kill()
            let r = pending.GetAwaiter().GetResult()
            Expect.equal (r.Stdout, r.Termination) ("abab\n", SandboxTermination.Exited) $"the request's own, faithful result (stderr {r.Stderr})"
            Expect.equal sb.ColdReruns 1 "re-run cold"
            expectNothingLeft r
            let next = run sb "print('next')" "" hostileTimeout
            Expect.equal (next.Stdout, sb.WorkersStarted) ("next\n", 2) "a fresh worker took the next run"
        }
        test "timeouts and output caps end the run, not the worker" {
            use sb = new PythonSandbox(limits, mode)
            let slow = run sb "import time\ntime.sleep(60)\n" "" (Some (TimeSpan.FromSeconds 1.0))
            Expect.equal slow.Termination SandboxTermination.WallClockTimeout "timed out"
            Expect.isLessThan slow.Elapsed.TotalSeconds 2.5 "near its 1 s timeout"
            let flood = run sb "while True:\n    print('x' * 4096)\n" "" hostileTimeout
            Expect.equal flood.Termination SandboxTermination.OutputLimit "output cap"
            Expect.isLessThanOrEqual flood.Stdout.Length (64 <<< 10) "capture stays under the cap"
            let spin = run sb "while True:\n    pass\n" "" (Some (TimeSpan.FromSeconds 1.0))
            Expect.isTrue spin.TimedOut $"CPU spin timed out ({spin.Termination})"
            let next = run sb "print(input())" "after" hostileTimeout
            Expect.equal (next.Stdout, sb.WorkersStarted, sb.ColdReruns) ("after\n", 1, 0) "the same worker answers the next run"
        }
        test "concurrent hostile and ordinary requests on 2 workers: every result is its own request's" {
            use sb = new PythonSandbox(limits, mode)
            let pool = new SandboxPool(sb, 2)
            use _ = { new IDisposable with member _.Dispose() = pool.DisposeAsync().AsTask().Wait() }
            let echo = "import sys, time, random\ns = sys.stdin.read()\ntime.sleep(random.random() * 0.05)\nprint(s.strip() * 2)\n"
            let requests =
                [ for i in 0 .. 29 ->
                    match i % 5 with
                    | 1 -> SandboxRequest("import os, sys\nprint(sys.stdin.read())\ntry:\n    os.kill(-1, 9)\nexcept OSError:\n    pass\nos.kill(1, 9)\n", $"k{i}")
                    | 2 -> SandboxRequest("import sys\nprint(sys.stdin.read(), flush=True)\nwhile True:\n    print('y' * 4096)\n", $"f{i}")
                    | 3 -> SandboxRequest("import sys\nraise SystemExit(sys.stdin.read())\n", $"e{i}")
                    | _ -> SandboxRequest(echo, $"r{i}-") ]
            let results = pool.RunAllAsync(requests).GetAwaiter().GetResult()
            for i in 0 .. 29 do
                let r = results[i]
                match i % 5 with
                | 1 -> Expect.equal (r.Stdout, r.ExitCode) ($"k{i}\n", 0) $"result {i} is request {i}'s"
                | 2 -> Expect.stringStarts r.Stdout $"f{i}\n" $"result {i} is request {i}'s"
                       Expect.equal r.Termination SandboxTermination.OutputLimit "capped"
                | 3 -> Expect.equal (r.Stderr, r.ExitCode) ($"e{i}\n", 1) $"result {i} is request {i}'s"
                | _ -> Expect.equal r.Stdout $"r{i}-r{i}-\n" $"result {i} is request {i}'s"
            Expect.equal (results |> Seq.map (fun r -> r.RunId) |> Seq.distinct |> Seq.length) 30 "distinct runs"
            Expect.equal (sb.WorkersStarted, sb.ColdReruns) (2, 0) "two workers served them all"
        }
    ]

let inMode (mode: SandboxMode) =
    testList (mode.ToString().ToLowerInvariant()) [ scoring mode; hostileSuite mode; pool mode; rewards mode ]

[<Tests>]
let tests =
    testSequenced <| Requirements.sandboxList "sandbox" [ inMode SandboxMode.Cold; inMode SandboxMode.Warm; warmWorkers ]
