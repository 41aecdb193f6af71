using System.Collections.Concurrent;
using System.Diagnostics;
using System.Text;

namespace Klear.Host.Rewards.Sandbox;

/// <summary>
/// Runs one untrusted Python program on one stdin, isolated by bubblewrap (every namespace unshared: no network, not
/// even the host's loopback; a read-only /usr and nothing else of the host; a size-capped tmpfs work dir) as an
/// unprivileged uid (setpriv: as root, RLIMIT_NPROC is not enforced) under rlimits and per-run cgroups.
/// Whatever happens, the whole process tree is killed before the result is returned. In <see cref="SandboxMode.Warm"/>
/// mode each concurrent caller gets a long-lived worker sandbox that forks a fresh child per run instead
/// (<see cref="SandboxZygote"/>); a run that breaks its worker is re-run cold.
/// </summary>
public sealed class PythonSandbox : IDisposable
{
    readonly string _hostDir;
    readonly bool _dropPrivileges;
    readonly ConcurrentBag<SandboxCgroup> _freeCgroups = [];
    readonly ConcurrentBag<SandboxZygote> _idleZygotes = [];
    int _cgroupsCreated, _zygotesStarted, _coldReruns;
    string? _lastWorkerFailure;
    volatile bool _disposed;

    public SandboxLimits Limits { get; }

    public SandboxMode Mode { get; }

    /// <summary>Warm workers started so far (one per concurrent caller, plus one after each reclaimed worker).</summary>
    public int WorkersStarted => _zygotesStarted;

    /// <summary>Warm runs whose worker broke (or could not be trusted) and that were therefore run cold.</summary>
    public int ColdReruns => _coldReruns;

    /// <summary>Why the last warm worker was reclaimed (null if none was), for diagnostics.</summary>
    public string? LastWorkerFailure => _lastWorkerFailure;

    /// <summary>CPU seconds of the idle warm workers and all the runs they reaped (getrusage cannot see them).</summary>
    internal double IdleWorkersCpuSeconds() => _idleZygotes.Sum(z => z.CpuSeconds());

    /// <summary>Whether per-sandbox cgroup limits are in force (else only the uid-wide process budget).</summary>
    public bool UsesCgroups { get; }

    /// <summary>Whether this host lets us create per-sandbox cgroups (root, cgroup v1 pids and memory writable).</summary>
    public static bool CgroupsAvailable => SandboxCgroup.Available;

    /// <exception cref="SandboxUnavailableException">bwrap, setpriv, dash or python is missing, or bwrap cannot isolate.</exception>
    /// <param name="mode">Warm by default: it passes the same hostile suite as cold, at ≈ 2.5× the throughput.</param>
    public PythonSandbox(SandboxLimits? limits = null, SandboxMode mode = SandboxMode.Warm)
    {
        if (!OperatingSystem.IsLinux()) throw new SandboxUnavailableException("the Python sandbox needs Linux (bubblewrap)");
        Limits = limits ?? new SandboxLimits();
        Limits.Validate();
        if (!Enum.IsDefined(mode)) throw new ArgumentOutOfRangeException(nameof(mode), $"unknown sandbox mode {mode}");
        Mode = mode;
        _dropPrivileges = Environment.IsPrivilegedProcess;
        var missing = MissingTools(_dropPrivileges, Limits.PythonPath);
        if (missing.Count > 0)
            throw new SandboxUnavailableException(
                $"refusing to run untrusted code: {string.Join(", ", missing)} not found. Install the sandbox tools " +
                "with `apt-get install -y --no-install-recommends bubblewrap util-linux python3` (Debian) and retry.");
        UsesCgroups = Limits.UseCgroups && SandboxCgroup.Available;
        // /tmp, not $TMPDIR: the sandbox uid must be able to traverse the parent, and a TMPDIR under /root is not.
        _hostDir = Path.Combine("/tmp", $"klear-sandbox-{Environment.ProcessId}-{Guid.NewGuid():N}");
        // Traversable but not listable by the sandbox uid: it must reach its own program file, nothing more.
        Directory.CreateDirectory(_hostDir, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute
                                            | UnixFileMode.GroupExecute | UnixFileMode.OtherExecute);
        if (mode == SandboxMode.Warm)
        {
            // A worker that cannot start is an error here, not a silent fall-back to cold runs for the whole session.
            try { _idleZygotes.Add(StartZygoteAsync(CancellationToken.None).GetAwaiter().GetResult()); }
            catch (SandboxUnavailableException) { Dispose(); throw; }
        }
        var probe = RunAsync(new SandboxRequest("print('ok')"), CancellationToken.None).GetAwaiter().GetResult();
        if (probe.ExitCode != 0 || probe.Stdout.Trim() != "ok" || mode == SandboxMode.Warm && _coldReruns > 0)
        {
            Dispose();
            if (probe.ExitCode == 0 && probe.Stdout.Trim() == "ok")
                throw new SandboxUnavailableException($"refusing to run untrusted code: the warm sandbox worker fails: {_lastWorkerFailure}");
            throw new SandboxUnavailableException(
                $"refusing to run untrusted code: the sandbox does not start (exit {probe.ExitCode}): {probe.Stderr.Trim()}. " +
                "bubblewrap needs unprivileged user namespaces (sysctl kernel.unprivileged_userns_clone=1).");
        }
    }

    /// <summary>The tools the sandbox needs that are not installed (empty when all are).</summary>
    public static IReadOnlyList<string> MissingTools(bool dropPrivileges, string python = "/usr/bin/python3")
    {
        var needed = new List<string> { "/usr/bin/bwrap", "/bin/dash", python };
        if (dropPrivileges) needed.Add("/usr/bin/setpriv");
        return needed.Where(p => !File.Exists(p)).ToList();
    }

    public Task<SandboxResult> RunAsync(SandboxRequest request, CancellationToken ct = default)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        var runId = Guid.NewGuid().ToString("N")[..16];
        var wall = request.Timeout ?? Limits.WallClock;
        if (wall <= TimeSpan.Zero) throw new ArgumentOutOfRangeException(nameof(request), "the timeout must be positive");
        return Mode == SandboxMode.Warm ? RunWarmAsync(request, runId, wall, ct) : RunColdAsync(request, runId, wall, ct);
    }

    async Task<SandboxResult> RunWarmAsync(SandboxRequest request, string runId, TimeSpan wall, CancellationToken ct)
    {
        SandboxZygote? zygote = null;
        try
        {
            zygote = _idleZygotes.TryTake(out var idle) ? idle : await StartZygoteAsync(ct);
            var result = await zygote.RunAsync(request, runId, wall, ProcessRlimit(zygote.Cgroup, SandboxMode.Warm), ct);
            if (result is not null)
            {
                if (_disposed) Reclaim(zygote); else _idleZygotes.Add(zygote);
                return result;
            }
        }
        catch (OperationCanceledException)
        {
            if (zygote is not null) Reclaim(zygote);
            throw;
        }
        // The worker broke mid-run (or could not start): kill all of it, then answer this request faithfully.
        catch (Exception e)
        {
            _lastWorkerFailure = e.Message;
        }
        if (zygote is not null)
        {
            _lastWorkerFailure = zygote.Failure ?? _lastWorkerFailure;
            Reclaim(zygote);
        }
        Interlocked.Increment(ref _coldReruns);
        return await RunColdAsync(request, runId, wall, ct);
    }

    async Task<SandboxZygote> StartZygoteAsync(CancellationToken ct)
    {
        var n = Interlocked.Increment(ref _zygotesStarted);
        var cgroup = RentCgroup(Limits.MaxProcesses + WarmWorkerProcesses);
        try
        {
            return await SandboxZygote.StartAsync(Limits, _dropPrivileges, cgroup, ProcessRlimit(cgroup, SandboxMode.Warm),
                Path.Combine(_hostDir, $"w{n}"), ct);
        }
        catch { ReturnCgroup(cgroup); throw; }
    }

    void Reclaim(SandboxZygote zygote)
    {
        zygote.Dispose();
        ReturnCgroup(zygote.Cgroup);
    }

    // A cold run is bwrap's monitor, a shell and python; a warm one adds the zygote's supervisor and the run's own
    // init. Process limits count them all, so warm workers get them on top and programs keep the same budget.
    const int WarmWorkerProcesses = 2;

    /// <summary>RLIMIT_NPROC: the uid-wide backstop with cgroups, else the only process limit there is.</summary>
    internal int ProcessRlimit(SandboxCgroup? cgroup, SandboxMode mode) =>
        cgroup is not null ? Limits.UidProcessBudget : Limits.MaxProcesses + (mode == SandboxMode.Warm ? WarmWorkerProcesses : 0);

    async Task<SandboxResult> RunColdAsync(SandboxRequest request, string runId, TimeSpan wall, CancellationToken ct)
    {
        var programFile = Path.Combine(_hostDir, runId + ".py");
        await File.WriteAllTextAsync(programFile, request.Program, ct);
        // The sandbox uid must read it (always Linux here: the constructor refuses other systems).
        if (OperatingSystem.IsLinux())
            File.SetUnixFileMode(programFile, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.GroupRead | UnixFileMode.OtherRead);
        var cgroup = RentCgroup(Limits.MaxProcesses);
        try
        {
            cgroup?.BeginRun();
            return await RunProcessAsync(runId, programFile, request.Stdin, wall, cgroup, ct);
        }
        finally
        {
            ReturnCgroup(cgroup);
            File.Delete(programFile);
        }
    }

    SandboxCgroup? RentCgroup(int processes)
    {
        if (!UsesCgroups) return null;
        if (!_freeCgroups.TryTake(out var cgroup))
        {
            var n = Interlocked.Increment(ref _cgroupsCreated);
            cgroup = SandboxCgroup.TryCreate($"klear-{Environment.ProcessId}-{_hostDir[^8..]}-{n}", Limits);
        }
        cgroup?.SetProcessLimit(processes);
        return cgroup;
    }

    void ReturnCgroup(SandboxCgroup? cgroup)
    {
        if (cgroup is null) return;
        cgroup.KillAll();
        // A slot that cannot be emptied is never handed to another run.
        if (cgroup.IsEmpty) _freeCgroups.Add(cgroup); else cgroup.Dispose();
    }

    async Task<SandboxResult> RunProcessAsync(string runId, string programFile, string stdin, TimeSpan wall,
                                              SandboxCgroup? cgroup, CancellationToken ct)
    {
        // The CPU limit backstops the wall clock for programs that spin; it never exceeds the configured one.
        var cpu = Math.Min(Limits.CpuSeconds, Math.Max(1, (int)Math.Ceiling(wall.TotalSeconds)));
        // pid 1 is a shell rather than python because a namespace's pid 1 ignores SIGXCPU and friends, and the
        // shell's wait also reaps orphans reparented to it. "; exit $?" stops dash from exec'ing python in its place.
        var psi = SandboxLauncher.Create(Limits, _dropPrivileges, cgroup, cpu.ToString(), (cpu + 1).ToString(),
            Limits.MaxOpenFiles, ProcessRlimit(cgroup, SandboxMode.Cold), programFile, "/sandbox/main.py", ("KLEAR_SANDBOX_RUN", runId), [],
            // env --default-signal: a host started with SIGINT ignored (a background job of a script) would pass that
            // on, and the program would see another signal state than in a warm run, which sets Python's defaults.
            ["/bin/sh", "-c", "\"$@\"; exit $?", "sh", "/usr/bin/env", "--default-signal", Limits.PythonPath, "-I", "-B", "/sandbox/main.py"]);

        var stopwatch = Stopwatch.StartNew();
        using var process = Process.Start(psi) ?? throw new InvalidOperationException("could not start the sandbox launcher");
        using var kill = CancellationTokenSource.CreateLinkedTokenSource(ct);
        var overflow = false;
        void OnOverflow()
        {
            overflow = true;
            try { kill.Cancel(); } catch (ObjectDisposedException) { }
        }
        var stdout = ReadCappedAsync(process.StandardOutput.BaseStream, Limits.MaxOutputBytes, OnOverflow);
        var stderr = ReadCappedAsync(process.StandardError.BaseStream, Limits.MaxOutputBytes, OnOverflow);
        var feed = FeedAsync(process.StandardInput.BaseStream, stdin);

        kill.CancelAfter(wall);
        var timedOut = false;
        try { await process.WaitForExitAsync(kill.Token); }
        catch (OperationCanceledException)
        {
            KillTree(process, cgroup);
            timedOut = !overflow && !ct.IsCancellationRequested;
        }
        stopwatch.Stop();
        // Anything left after the main process ended (none expected: bwrap's pid-1 takes its namespace down with it).
        var survivors = cgroup?.KillAll() ?? 0;
        if (!process.HasExited) KillTree(process, cgroup);
        await process.WaitForExitAsync(CancellationToken.None);
        ct.ThrowIfCancellationRequested();

        // The pipes close when the last process holding them dies; bound the wait in case one escaped the kill.
        var drained = Task.WhenAll(stdout, stderr, feed);
        if (await Task.WhenAny(drained, Task.Delay(TimeSpan.FromSeconds(2), CancellationToken.None)) != drained)
            KillTree(process, cgroup);

        var exitCode = process.ExitCode;
        var termination = SandboxVerdict.Classify(overflow, cgroup?.OomKilled == true, timedOut, exitCode);
        return new SandboxResult(runId, exitCode, termination,
            stdout.IsCompletedSuccessfully ? stdout.Result : "", stderr.IsCompletedSuccessfully ? stderr.Result : "",
            stopwatch.Elapsed, cgroup?.ProcessLimitHit ?? false, survivors);
    }

    static void KillTree(Process process, SandboxCgroup? cgroup) => SandboxProcessTree.Kill(process, cgroup);

    static async Task<string> ReadCappedAsync(Stream stream, int cap, Action onOverflow)
    {
        var buffer = new MemoryStream();
        var chunk = new byte[16384];
        int n;
        while ((n = await stream.ReadAsync(chunk)) > 0)
        {
            var keep = Math.Min(n, cap - (int)buffer.Length);
            if (keep > 0) buffer.Write(chunk, 0, keep);
            if (keep < n) { onOverflow(); break; }
        }
        return Encoding.UTF8.GetString(buffer.GetBuffer(), 0, (int)buffer.Length);
    }

    static async Task FeedAsync(Stream stdin, string input)
    {
        // A program that never reads its input (or dies early) closes the pipe: that is its business, not an error.
        try { await stdin.WriteAsync(Encoding.UTF8.GetBytes(input)); }
        catch (IOException) { }
        finally { try { stdin.Dispose(); } catch (IOException) { } }
    }

    public void Dispose()
    {
        _disposed = true;
        while (_idleZygotes.TryTake(out var zygote)) Reclaim(zygote);
        while (_freeCgroups.TryTake(out var cgroup)) cgroup.Dispose();
        try { Directory.Delete(_hostDir, recursive: true); } catch (DirectoryNotFoundException) { }
    }
}
