namespace Klear.Host.Rewards.Code;

/// <summary>The verdict on one test; the names are the CLI's JSON statuses.</summary>
public enum CodeTestStatus
{
    Passed,
    /// <summary>Ran to a clean end with the wrong answer (or a failed assert).</summary>
    Failed,
    /// <summary>Wall-clock or CPU limit.</summary>
    Timeout,
    /// <summary>Crashed, killed by a limit other than time, or exited non-zero.</summary>
    Error,
}
