using System.Collections.Concurrent;
using System.Diagnostics;
using System.Text;

namespace Klear.Host.Rewards.Sandbox;

/// <summary>
/// Runs one untrusted Python program on one stdin, isolated by bubblewrap (every namespace unshared: no network, not
/// even the host's loopback; a read-only /usr and nothing else of the host; a size-capped tmpfs work dir) as an
/// unprivileged uid (setpriv: as root, RLIMIT_NPROC is not enforced) under rlimits and per-run cgroups.
/// Whatever happens, the whole process tree is killed before the result is returned.
/// </summary>
public sealed class PythonSandbox : IDisposable
{
    // The launcher sets the rlimits with dash's ulimit builtin (one exec fewer than prlimit; the chain of execs is most
    // of the sandbox's cost; bash's ulimit flags differ, hence dash by path), joins the cgroups before exec'ing, so
    // even the program's first fork is accounted, then execs the rest.
    // Arguments: cpu-soft cpu-hard as-KiB fsize-512B-blocks nofile nproc [cgroup.procs files] -- command.
    const string LauncherScript =
        "ulimit -S -t $1 && ulimit -H -t $2 && ulimit -v $3 && ulimit -f $4 && ulimit -n $5 && ulimit -p $6 && ulimit -c 0 " +
        "|| exit 125; shift 6; " +
        "for f in \"$@\"; do shift; [ \"$f\" = -- ] && break; echo $$ > \"$f\" || exit 125; done; exec \"$@\"";

    readonly string _hostDir;
    readonly bool _dropPrivileges;
    readonly ConcurrentBag<SandboxCgroup> _freeCgroups = [];
    int _cgroupsCreated;

    public SandboxLimits Limits { get; }

    /// <summary>Whether per-sandbox cgroup limits are in force (else only the uid-wide process budget).</summary>
    public bool UsesCgroups { get; }

    /// <summary>Whether this host lets us create per-sandbox cgroups (root, cgroup v1 pids and memory writable).</summary>
    public static bool CgroupsAvailable => SandboxCgroup.Available;

    /// <exception cref="SandboxUnavailableException">bwrap, setpriv, dash or python is missing, or bwrap cannot isolate.</exception>
    public PythonSandbox(SandboxLimits? limits = null)
    {
        if (!OperatingSystem.IsLinux()) throw new SandboxUnavailableException("the Python sandbox needs Linux (bubblewrap)");
        Limits = limits ?? new SandboxLimits();
        Limits.Validate();
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
        var probe = RunAsync(new SandboxRequest("print('ok')"), CancellationToken.None).GetAwaiter().GetResult();
        if (probe.ExitCode != 0 || probe.Stdout.Trim() != "ok")
        {
            Dispose();
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

    public async Task<SandboxResult> RunAsync(SandboxRequest request, CancellationToken ct = default)
    {
        var runId = Guid.NewGuid().ToString("N")[..16];
        var wall = request.Timeout ?? Limits.WallClock;
        var programFile = Path.Combine(_hostDir, runId + ".py");
        await File.WriteAllTextAsync(programFile, request.Program, ct);
        // The sandbox uid must read it (always Linux here: the constructor refuses other systems).
        if (OperatingSystem.IsLinux())
            File.SetUnixFileMode(programFile, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.GroupRead | UnixFileMode.OtherRead);
        var cgroup = RentCgroup();
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

    SandboxCgroup? RentCgroup()
    {
        if (!UsesCgroups) return null;
        if (_freeCgroups.TryTake(out var free)) return free;
        var n = Interlocked.Increment(ref _cgroupsCreated);
        return SandboxCgroup.TryCreate($"klear-{Environment.ProcessId}-{_hostDir[^8..]}-{n}", Limits);
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
        var psi = new ProcessStartInfo
        {
            RedirectStandardInput = true, RedirectStandardOutput = true, RedirectStandardError = true,
            UseShellExecute = false,
        };
        var l = Limits;
        // The CPU limit backstops the wall clock for programs that spin; it never exceeds the configured one.
        var cpu = Math.Min(l.CpuSeconds, Math.Max(1, (int)Math.Ceiling(wall.TotalSeconds)));
        psi.FileName = "/bin/dash";
        foreach (var a in (string[])["-c", LauncherScript, "sh",
                     cpu.ToString(), (cpu + 1).ToString(), (l.AddressSpaceBytes / 1024).ToString(),
                     (l.MaxFileBytes / 512).ToString(), l.MaxOpenFiles.ToString(),
                     (cgroup is not null ? l.UidProcessBudget : l.MaxProcesses).ToString()])
            psi.ArgumentList.Add(a);
        foreach (var f in cgroup?.ProcsFiles ?? []) psi.ArgumentList.Add(f);
        psi.ArgumentList.Add("--");
        foreach (var a in CommandLine(runId, programFile)) psi.ArgumentList.Add(a);

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
        var termination =
            overflow ? SandboxTermination.OutputLimit
            // An OOM kill names the cause even when the survivors then ran into the timeout.
            : cgroup?.OomKilled == true ? SandboxTermination.MemoryLimit
            : timedOut ? SandboxTermination.WallClockTimeout
            : exitCode == 128 + 24 ? SandboxTermination.CpuTimeLimit
            : exitCode == 128 + 25 ? SandboxTermination.FileSizeLimit
            : exitCode > 128 ? SandboxTermination.Signalled
            : SandboxTermination.Exited;
        return new SandboxResult(runId, exitCode, termination,
            stdout.IsCompletedSuccessfully ? stdout.Result : "", stderr.IsCompletedSuccessfully ? stderr.Result : "",
            stopwatch.Elapsed, cgroup?.ProcessLimitHit ?? false, survivors);
    }

    /// <summary>setpriv (drop to the sandbox uid), bwrap (namespaces and mounts), a reaping shell, python.</summary>
    List<string> CommandLine(string runId, string programFile)
    {
        var l = Limits;
        var uid = l.SandboxUid.ToString();
        var args = new List<string>();
        if (_dropPrivileges)
            args.AddRange(["/usr/bin/setpriv", $"--reuid={uid}", $"--regid={uid}", "--clear-groups"]);
        args.AddRange([
            "/usr/bin/bwrap",
            "--unshare-all", "--unshare-user", "--disable-userns", "--die-with-parent", "--new-session",
            "--hostname", "sandbox",
            "--ro-bind", "/usr", "/usr",
            "--symlink", "usr/lib", "/lib", "--symlink", "usr/lib64", "/lib64",
            "--symlink", "usr/bin", "/bin", "--symlink", "usr/sbin", "/sbin",
            "--proc", "/proc", "--dev", "/dev", "--remount-ro", "/dev",
            "--size", l.WorkDirBytes.ToString(), "--tmpfs", "/tmp",
            "--ro-bind", programFile, "/sandbox/main.py",
            "--remount-ro", "/",
            "--chdir", "/tmp",
            "--clearenv", "--setenv", "PATH", "/usr/bin", "--setenv", "HOME", "/tmp", "--setenv", "LANG", "C.UTF-8",
            "--setenv", "KLEAR_SANDBOX_RUN", runId,
            // bwrap's own pid-1 outlives its monitor and is left a zombie for the host's init to reap (slowly; it
            // holds a pids-cgroup slot meanwhile). With --as-pid-1 the monitor reaps its direct child itself; that
            // child is a shell rather than python because a namespace's pid 1 ignores SIGXCPU and friends, and the
            // shell's wait also reaps orphans reparented to it. "; exit $?" stops dash from exec'ing python in its place.
            "--as-pid-1",
            "--", "/bin/sh", "-c", "\"$@\"; exit $?", "sh", l.PythonPath, "-I", "-B", "/sandbox/main.py",
        ]);
        return args;
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
        while (_freeCgroups.TryTake(out var cgroup)) cgroup.Dispose();
        try { Directory.Delete(_hostDir, recursive: true); } catch (DirectoryNotFoundException) { }
    }
}
