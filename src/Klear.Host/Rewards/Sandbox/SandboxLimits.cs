namespace Klear.Host.Rewards.Sandbox;

/// <summary>
/// Limits for one untrusted Python program. Per-process limits are rlimits (inherited, and hard limits cannot be
/// raised by the dropped uid); per-sandbox totals (processes, memory) are cgroup v1 limits when the cgroup
/// controllers are writable, otherwise the uid-wide RLIMIT_NPROC stands in for the process limit.
/// </summary>
public sealed record SandboxLimits
{
    /// <summary>RLIMIT_AS of every process: a memory bomb gets MemoryError instead of pressuring the host.</summary>
    public long AddressSpaceBytes { get; init; } = 1L << 30;

    /// <summary>memory cgroup limit of the whole sandbox, so N processes cannot each take their address space.</summary>
    public long MemoryBytes { get; init; } = 1L << 30;

    /// <summary>RLIMIT_CPU soft limit (SIGXCPU); the hard limit is one second above it.</summary>
    public int CpuSeconds { get; init; } = 10;

    /// <summary>Default wall-clock limit from process start, used when a run gives no timeout of its own.</summary>
    public TimeSpan WallClock { get; init; } = TimeSpan.FromSeconds(10);

    /// <summary>pids cgroup limit per sandbox (bwrap's own two processes included).</summary>
    public int MaxProcesses { get; init; } = 32;

    /// <summary>RLIMIT_NPROC for uid <see cref="SandboxUid"/> when cgroups give the per-sandbox limit: it counts every
    /// process of that uid on the host, so it only backstops the sum over concurrent sandboxes.</summary>
    public int UidProcessBudget { get; init; } = 1024;

    /// <summary>RLIMIT_NOFILE.</summary>
    public int MaxOpenFiles { get; init; } = 64;

    /// <summary>RLIMIT_FSIZE: the largest file a program may write (SIGXFSZ past it).</summary>
    public long MaxFileBytes { get; init; } = 16L << 20;

    /// <summary>Size of the private tmpfs work dir (many small files cannot exceed it either).</summary>
    public long WorkDirBytes { get; init; } = 64L << 20;

    /// <summary>Captured bytes per stream; a program that writes more is killed (it would otherwise block or
    /// fill host memory).</summary>
    public int MaxOutputBytes { get; init; } = 1 << 20;

    /// <summary>Use per-sandbox cgroups when the controllers are writable. Off, the process limit falls back to
    /// RLIMIT_NPROC of the sandbox uid (shared by concurrent sandboxes) and there is no per-sandbox memory total.</summary>
    public bool UseCgroups { get; init; } = true;

    /// <summary>Debian's interpreter: the pyenv one first on PATH lives under /root, which the sandbox cannot see.</summary>
    public string PythonPath { get; init; } = "/usr/bin/python3";

    /// <summary>The unprivileged uid/gid the program runs as (nobody/nogroup).</summary>
    public int SandboxUid { get; init; } = 65534;

    public void Validate()
    {
        if (AddressSpaceBytes < 64L << 20) throw new ArgumentOutOfRangeException(nameof(AddressSpaceBytes), "python needs at least 64 MiB");
        if (MemoryBytes < 64L << 20) throw new ArgumentOutOfRangeException(nameof(MemoryBytes), "python needs at least 64 MiB");
        if (CpuSeconds < 1) throw new ArgumentOutOfRangeException(nameof(CpuSeconds));
        if (WallClock <= TimeSpan.Zero) throw new ArgumentOutOfRangeException(nameof(WallClock));
        if (MaxProcesses < 3) throw new ArgumentOutOfRangeException(nameof(MaxProcesses), "bwrap itself needs two processes");
        if (MaxOpenFiles < 8 || MaxFileBytes < 0 || WorkDirBytes < 1 << 20 || MaxOutputBytes < 1)
            throw new ArgumentOutOfRangeException(nameof(MaxOpenFiles), "file and output limits out of range");
    }
}
