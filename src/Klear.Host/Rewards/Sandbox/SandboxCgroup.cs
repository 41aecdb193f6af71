namespace Klear.Host.Rewards.Sandbox;

/// <summary>
/// A pair of cgroup v1 directories (pids and memory, nested under this process's own cgroups so the container's
/// accounting still applies) that hold one sandboxed run at a time. They give per-sandbox process and memory totals,
/// which rlimits cannot, and list every process of the run, so survivors can be found and killed whatever their
/// parentage. Slots are reused across runs: creating and removing a memory cgroup per run cost ≈ 10 ms, more than
/// the rest of the sandbox together.
/// </summary>
internal sealed class SandboxCgroup : IDisposable
{
    const string Root = "/sys/fs/cgroup";
    static readonly Lazy<(string? Pids, string? Memory)> Bases = new(FindBases);

    readonly string _pids;
    readonly string _memory;

    long _oomKillsBefore, _forkFailuresBefore;
    int _processLimit;

    SandboxCgroup(string pids, string memory) { _pids = pids; _memory = memory; }

    /// <summary>Whether both controllers are present and writable here.</summary>
    public static bool Available => Bases.Value is { Pids: not null, Memory: not null };

    /// <summary>The cgroup.procs files the launcher must write its own pid into before exec'ing the sandbox.</summary>
    public string[] ProcsFiles => [Path.Combine(_pids, "cgroup.procs"), Path.Combine(_memory, "cgroup.procs")];

    public static SandboxCgroup? TryCreate(string name, SandboxLimits limits)
    {
        if (Bases.Value is not { Pids: { } pidsBase, Memory: { } memoryBase }) return null;
        var pids = Path.Combine(pidsBase, name);
        var memory = Path.Combine(memoryBase, name);
        Directory.CreateDirectory(pids);
        Directory.CreateDirectory(memory);
        var cg = new SandboxCgroup(pids, memory);
        try
        {
            cg.SetProcessLimit(limits.MaxProcesses);
            File.WriteAllText(Path.Combine(memory, "memory.limit_in_bytes"), limits.MemoryBytes.ToString());
            // Without this a program could move its excess into swap (none here today, but a host may have some).
            var memsw = Path.Combine(memory, "memory.memsw.limit_in_bytes");
            if (File.Exists(memsw)) File.WriteAllText(memsw, limits.MemoryBytes.ToString());
        }
        catch { cg.Dispose(); throw; }
        return cg;
    }

    /// <summary>Sets pids.max (a warm worker's own processes need a little more than a cold run's).</summary>
    public void SetProcessLimit(int processes)
    {
        if (processes == _processLimit) return;
        File.WriteAllText(Path.Combine(_pids, "pids.max"), processes.ToString());
        _processLimit = processes;
    }

    /// <summary>Marks the start of a run: the kernel's counters are cumulative, so verdicts compare with this.</summary>
    public void BeginRun()
    {
        _oomKillsBefore = OomKills;
        _forkFailuresBefore = ForkFailures;
    }

    /// <summary>The memory cgroup's OOM killer fired during this run.</summary>
    public bool OomKilled => OomKills > _oomKillsBefore;

    /// <summary>A fork or clone failed on pids.max during this run.</summary>
    public bool ProcessLimitHit => ForkFailures > _forkFailuresBefore;

    /// <summary>Distinct processes in the two cgroups now.</summary>
    public int ProcessCount() => ReadPids().Distinct().Count();

    /// <summary>No process is left in either cgroup (the slot can take the next run).</summary>
    public bool IsEmpty => ReadPids().Count == 0;

    long OomKills => ReadCounter(Path.Combine(_memory, "memory.oom_control"), "oom_kill");
    long ForkFailures => ReadCounter(Path.Combine(_pids, "pids.events"), "max");

    /// <summary>SIGKILLs every process in the cgroup until it stays empty; returns how many were found.</summary>
    public int KillAll() => KillAllExcept(0);

    /// <summary>As <see cref="KillAll"/>, sparing one process (bwrap's monitor, which must reap the namespace).</summary>
    public int KillAllExcept(int spared)
    {
        var seen = new HashSet<int>();
        // A fork bomb can fork between our read and our kill; pids.max bounds it, so a few rounds converge.
        for (int round = 0; round < 200; round++)
        {
            var pids = ReadPids().Where(p => p != spared).ToList();
            if (pids.Count == 0) return seen.Count;
            foreach (var pid in pids) { seen.Add(pid); _ = SandboxProcessTree.SendSignal(pid, 9); }
            Thread.Sleep(round < 10 ? 1 : 10);
        }
        return seen.Count;
    }

    public void Dispose()
    {
        KillAll();
        foreach (var dir in new[] { _pids, _memory })
        {
            // rmdir fails with EBUSY until the last killed process has been reaped by the kernel.
            for (int attempt = 0; attempt < 100 && Directory.Exists(dir); attempt++)
            {
                try { Directory.Delete(dir); }
                catch (IOException) { KillAll(); Thread.Sleep(5); }
            }
        }
    }

    List<int> ReadPids()
    {
        var result = new List<int>();
        foreach (var dir in new[] { _pids, _memory })
        {
            try
            {
                foreach (var line in File.ReadAllLines(Path.Combine(dir, "cgroup.procs")))
                    if (int.TryParse(line, out var pid)) result.Add(pid);
            }
            catch (IOException) { }
        }
        return result;
    }

    static long ReadCounter(string file, string key)
    {
        try
        {
            foreach (var line in File.ReadAllLines(file))
            {
                var parts = line.Split(' ', StringSplitOptions.RemoveEmptyEntries);
                if (parts.Length == 2 && parts[0] == key && long.TryParse(parts[1], out var v)) return v;
            }
        }
        catch (IOException) { }
        return 0;
    }

    static (string?, string?) FindBases()
    {
        if (!OperatingSystem.IsLinux() || !Environment.IsPrivilegedProcess) return (null, null);
        string? pids = null, memory = null;
        try
        {
            foreach (var line in File.ReadAllLines("/proc/self/cgroup"))
            {
                // v1 lines look like "8:pids:/some/path"; the unified "0::/" line has an empty controller list.
                var parts = line.Split(':', 3);
                if (parts.Length != 3) continue;
                foreach (var controller in parts[1].Split(','))
                    if (controller is "pids" or "memory")
                    {
                        var dir = Path.Combine(Root, controller) + parts[2].TrimEnd('/');
                        if (!Probe(dir)) continue;
                        if (controller == "pids") pids = dir; else memory = dir;
                    }
            }
        }
        catch (IOException) { }
        return (pids, memory);
    }

    static bool Probe(string dir)
    {
        var probe = Path.Combine(dir, $"klear-probe-{Environment.ProcessId}");
        try { Directory.CreateDirectory(probe); Directory.Delete(probe); return true; }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException) { return false; }
    }
}
