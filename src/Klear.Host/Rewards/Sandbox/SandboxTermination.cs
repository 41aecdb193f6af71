namespace Klear.Host.Rewards.Sandbox;

/// <summary>How a sandboxed program ended.</summary>
public enum SandboxTermination
{
    /// <summary>Exited by itself (any exit code).</summary>
    Exited,
    /// <summary>Killed by a signal it did not get from a limit we can name (segfault, abort, ...).</summary>
    Signalled,
    /// <summary>Killed at the wall-clock limit.</summary>
    WallClockTimeout,
    /// <summary>Killed by RLIMIT_CPU (SIGXCPU).</summary>
    CpuTimeLimit,
    /// <summary>The memory cgroup's OOM killer fired.</summary>
    MemoryLimit,
    /// <summary>Killed for writing more than the output cap.</summary>
    OutputLimit,
    /// <summary>Killed by RLIMIT_FSIZE (SIGXFSZ).</summary>
    FileSizeLimit,
}
