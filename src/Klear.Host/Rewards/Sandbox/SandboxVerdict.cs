namespace Klear.Host.Rewards.Sandbox;

/// <summary>One reading of how a run ended, shared by cold runs and warm workers so both name causes alike.</summary>
internal static class SandboxVerdict
{
    public static SandboxTermination Classify(bool outputOverflow, bool oomKilled, bool timedOut, int exitCode) =>
        outputOverflow ? SandboxTermination.OutputLimit
        // An OOM kill names the cause even when the survivors then ran into the timeout.
        : oomKilled ? SandboxTermination.MemoryLimit
        : timedOut ? SandboxTermination.WallClockTimeout
        : exitCode == 128 + 24 ? SandboxTermination.CpuTimeLimit
        : exitCode == 128 + 25 ? SandboxTermination.FileSizeLimit
        : exitCode > 128 ? SandboxTermination.Signalled
        : SandboxTermination.Exited;
}
