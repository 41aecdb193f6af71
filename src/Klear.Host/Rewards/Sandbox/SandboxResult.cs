namespace Klear.Host.Rewards.Sandbox;

/// <summary>The outcome of one sandboxed run.</summary>
/// <param name="RunId">Unique per run; set as KLEAR_SANDBOX_RUN in the program's environment so leftovers can be
/// searched for in /proc.</param>
/// <param name="ExitCode">The program's exit code, 128+signal when it was killed.</param>
/// <param name="ProcessLimitHit">A fork failed because the sandbox's process limit was reached.</param>
/// <param name="Survivors">Processes still in the sandbox's cgroup after the main process ended, killed then.</param>
public sealed record SandboxResult(
    string RunId,
    int ExitCode,
    SandboxTermination Termination,
    string Stdout,
    string Stderr,
    TimeSpan Elapsed,
    bool ProcessLimitHit,
    int Survivors)
{
    public bool TimedOut => Termination is SandboxTermination.WallClockTimeout or SandboxTermination.CpuTimeLimit;
}
