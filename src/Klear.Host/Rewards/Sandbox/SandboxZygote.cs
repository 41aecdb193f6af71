using System.Diagnostics;
using System.Text;

namespace Klear.Host.Rewards.Sandbox;

/// <summary>
/// One warm worker: a long-lived sandbox started through the same launcher, uid, bwrap and cgroups as a cold run, whose
/// pid 1 is the zygote (zygote.py), one request at a time. Any doubt about the zygote (no answer in time, a malformed
/// or stale frame, an internal error, a process left in the cgroup) makes <see cref="RunAsync"/> return null: the
/// caller then kills the whole worker and runs the request cold, so a result is never lost, never made up and never
/// attached to another request.
/// </summary>
internal sealed class SandboxZygote : IDisposable
{
    const string ResourceName = "Klear.Host.Rewards.Sandbox.zygote.py";

    static readonly Lazy<string> Source = new(() =>
    {
        using var stream = typeof(SandboxZygote).Assembly.GetManifestResourceStream(ResourceName)
            ?? throw new InvalidOperationException($"embedded resource {ResourceName} is missing from the build");
        return new StreamReader(stream).ReadToEnd();
    });

    // Beyond the run's own wall clock (which the zygote enforces): its kill, reap and wipe, on a loaded machine.
    static readonly TimeSpan Grace = TimeSpan.FromSeconds(3);
    static readonly TimeSpan StartTimeout = TimeSpan.FromSeconds(15);

    readonly Process _process;
    readonly string _dir;
    readonly SandboxLimits _limits;
    readonly StringBuilder _diagnostics = new();
    ulong _sequence;

    /// <summary>The cgroup slot this worker lives in for its whole life (owned by the caller).</summary>
    public SandboxCgroup? Cgroup { get; }

    SandboxZygote(Process process, string dir, SandboxLimits limits, SandboxCgroup? cgroup)
    {
        _process = process;
        _dir = dir;
        _limits = limits;
        Cgroup = cgroup;
        _ = DrainDiagnosticsAsync();
    }

    /// <summary>Why the last run could not be trusted (null while all is well), for error messages.</summary>
    public string? Failure { get; private set; }

    /// <summary>What the zygote wrote on its own stderr (the tail), for error messages.</summary>
    public string Diagnostics { get { lock (_diagnostics) return _diagnostics.ToString().Trim(); } }

    /// <param name="dir">A host directory for this worker alone; bound read-only at /sandbox.</param>
    /// <exception cref="SandboxUnavailableException">The zygote did not come up.</exception>
    /// <param name="processes">RLIMIT_NPROC of the worker; each run sets the same for itself.</param>
    public static async Task<SandboxZygote> StartAsync(SandboxLimits l, bool dropPrivileges, SandboxCgroup? cgroup,
                                                       int processes, string dir, CancellationToken ct)
    {
        if (!OperatingSystem.IsLinux()) throw new SandboxUnavailableException("the Python sandbox needs Linux (bubblewrap)");
        Directory.CreateDirectory(dir, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute
                                       | UnixFileMode.GroupRead | UnixFileMode.GroupExecute
                                       | UnixFileMode.OtherRead | UnixFileMode.OtherExecute);
        // The zygote itself has no CPU limit (it lives for many runs; each child sets its own) and needs a few fds
        // beyond a run's; every child lowers both to the run's limits before the program starts.
        var psi = SandboxLauncher.Create(l, dropPrivileges, cgroup, "unlimited", "unlimited", Math.Max(l.MaxOpenFiles, 64),
            processes, dir, "/sandbox", ("KLEAR_SANDBOX_ZYG", new string('0', 16)),
            // Only for the zygote, which never runs untrusted code: each run gets fresh pid, IPC, mount and network
            // namespaces, a fresh /proc and /tmp, and loses every capability before the program starts.
            ["CAP_SYS_ADMIN", "CAP_NET_ADMIN", "CAP_SETPCAP"],
            [l.PythonPath, "-I", "-B", "-c", Source.Value, l.WorkDirBytes.ToString()]);
        var process = Process.Start(psi) ?? throw new InvalidOperationException("could not start the sandbox launcher");
        var zygote = new SandboxZygote(process, dir, l, cgroup);
        try
        {
            var ready = await zygote.ReadFrameAsync(StartTimeout, 0, ct);
            if (ready is not { Header.Sequence: 0 })
                throw new SandboxUnavailableException(
                    $"the warm sandbox worker did not start (exit {(process.HasExited ? process.ExitCode : -1)}): {zygote.Diagnostics}");
        }
        catch
        {
            zygote.Dispose();
            throw;
        }
        return zygote;
    }

    /// <summary>Runs one request; null when the worker can no longer be trusted (the caller must dispose it).</summary>
    public async Task<SandboxResult?> RunAsync(SandboxRequest request, string runId, TimeSpan wall, int processes,
                                               CancellationToken ct)
    {
        var program = Path.Combine(_dir, "main.py");
        await File.WriteAllTextAsync(program, request.Program, ct);
        if (!OperatingSystem.IsLinux()) throw new PlatformNotSupportedException();
        File.SetUnixFileMode(program, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.GroupRead | UnixFileMode.OtherRead);
        try
        {
            // The CPU limit backstops the wall clock for programs that spin; it never exceeds the configured one.
            var cpu = Math.Min(_limits.CpuSeconds, Math.Max(1, (int)Math.Ceiling(wall.TotalSeconds)));
            var sequence = ++_sequence;
            var frame = ZygoteProtocol.Request(sequence, runId, wall, cpu, cpu + 1, processes, _limits,
                Encoding.UTF8.GetBytes(request.Stdin));
            Cgroup?.BeginRun();
            var stopwatch = Stopwatch.StartNew();
            try
            {
                var stdin = _process.StandardInput.BaseStream;
                await stdin.WriteAsync(frame, ct);
                await stdin.FlushAsync(ct);
            }
            catch (IOException e) { return Fail($"the request could not be sent ({e.Message})"); }
            var reply = await ReadFrameAsync(wall + Grace, sequence, ct);
            stopwatch.Stop();
            if (reply is not { } r) return Fail($"no valid answer within {wall + Grace}");
            if (r.Header.Outcome == ZygoteProtocol.Outcome.InternalError)
                return Fail("internal error: " + Encoding.UTF8.GetString(r.Stderr));
            // Whatever the zygote says, only the idle worker itself (bwrap's monitor and the zygote) may be left.
            if (Cgroup is not null && Cgroup.ProcessCount() is var left and > 2)
                return Fail($"{left} processes in the worker's cgroup after the run, 2 expected");
            var h = r.Header;
            var termination = SandboxVerdict.Classify(h.Outcome == ZygoteProtocol.Outcome.OutputLimit,
                Cgroup?.OomKilled == true, h.Outcome == ZygoteProtocol.Outcome.TimedOut, h.ExitCode);
            return new SandboxResult(runId, h.ExitCode, termination, Encoding.UTF8.GetString(r.Stdout),
                Encoding.UTF8.GetString(r.Stderr), stopwatch.Elapsed, Cgroup?.ProcessLimitHit ?? false, h.Survivors);
        }
        finally
        {
            File.Delete(program);
        }
    }

    SandboxResult? Fail(string why)
    {
        Failure = Diagnostics is { Length: > 0 } d ? $"{why}; worker stderr: {d}" : why;
        return null;
    }

    /// <summary>The next frame if it answers <paramref name="sequence"/> within the timeout, else null (and the
    /// zygote is killed when it ran out of time, which also ends the read).</summary>
    async Task<(ZygoteProtocol.Response Header, byte[] Stdout, byte[] Stderr)?> ReadFrameAsync(
        TimeSpan timeout, ulong sequence, CancellationToken ct)
    {
        var read = ReadFrameCoreAsync();
        using var stopDelay = CancellationTokenSource.CreateLinkedTokenSource(ct);
        var delay = Task.Delay(timeout, stopDelay.Token);
        if (await Task.WhenAny(read, delay) != read)
        {
            Kill();
            try { await read; } catch (Exception e) when (e is IOException or EndOfStreamException or InvalidDataException) { }
            ct.ThrowIfCancellationRequested();
            return null;
        }
        stopDelay.Cancel();
        try
        {
            var frame = await read;
            return frame.Header.Sequence == sequence ? frame : null;
        }
        catch (Exception e) when (e is IOException or EndOfStreamException or InvalidDataException) { return null; }
    }

    async Task<(ZygoteProtocol.Response Header, byte[] Stdout, byte[] Stderr)> ReadFrameCoreAsync()
    {
        var stream = _process.StandardOutput.BaseStream;
        var header = new byte[ZygoteProtocol.ResponseHeaderBytes];
        await stream.ReadExactlyAsync(header);
        var h = ZygoteProtocol.ParseResponse(header);
        if (h.StdoutBytes > _limits.MaxOutputBytes || h.StderrBytes > Math.Max(_limits.MaxOutputBytes, 1 << 16))
            throw new InvalidDataException("zygote output above the cap");
        var stdout = new byte[h.StdoutBytes];
        var stderr = new byte[h.StderrBytes];
        await stream.ReadExactlyAsync(stdout);
        await stream.ReadExactlyAsync(stderr);
        // The zygote's word that the run's supervisor has exited: the worker is idle again.
        var idle = new byte[ZygoteProtocol.IdleMarker.Length];
        await stream.ReadExactlyAsync(idle);
        if (!idle.AsSpan().SequenceEqual(ZygoteProtocol.IdleMarker)) throw new InvalidDataException("no idle marker after the response");
        return (h, stdout, stderr);
    }

    async Task DrainDiagnosticsAsync()
    {
        var buffer = new char[4096];
        try
        {
            int n;
            while ((n = await _process.StandardError.ReadAsync(buffer)) > 0)
                lock (_diagnostics)
                {
                    _diagnostics.Append(buffer, 0, n);
                    if (_diagnostics.Length > 8192) _diagnostics.Remove(0, _diagnostics.Length - 4096);
                }
        }
        catch (Exception e) when (e is IOException or ObjectDisposedException or InvalidOperationException) { }
    }

    /// <summary>CPU seconds used so far by the worker: bwrap's monitor and the zygote, with every run the zygote has
    /// reaped. The host's getrusage never sees these until the worker ends, so benchmarks add them explicitly.</summary>
    public double CpuSeconds()
    {
        double Ticks(int pid, bool withChildren)
        {
            try
            {
                // Fields after the ")" closing the command name: utime is the 12th, then stime, cutime, cstime.
                var f = File.ReadAllText($"/proc/{pid}/stat").Split(')')[^1].Split(' ', StringSplitOptions.RemoveEmptyEntries);
                return long.Parse(f[11]) + long.Parse(f[12]) + (withChildren ? long.Parse(f[13]) + long.Parse(f[14]) : 0);
            }
            catch (Exception e) when (e is IOException or FormatException or IndexOutOfRangeException) { return 0; }
        }
        var monitor = _process.Id;
        var ticks = Ticks(monitor, withChildren: false);
        try
        {
            foreach (var child in File.ReadAllText($"/proc/{monitor}/task/{monitor}/children").Split(' ', StringSplitOptions.RemoveEmptyEntries))
                ticks += Ticks(int.Parse(child), withChildren: true);
        }
        catch (IOException) { }
        return ticks / 100.0;  // USER_HZ is 100 on Linux
    }

    void Kill() => SandboxProcessTree.Kill(_process, Cgroup);

    public void Dispose()
    {
        Kill();
        _process.WaitForExit(2000);
        _process.Dispose();
        try { Directory.Delete(_dir, recursive: true); } catch (DirectoryNotFoundException) { }
    }
}
