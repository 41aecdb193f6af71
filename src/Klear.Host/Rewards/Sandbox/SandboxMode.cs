namespace Klear.Host.Rewards.Sandbox;

/// <summary>How the sandbox starts programs; both give the same isolation between runs.</summary>
public enum SandboxMode
{
    /// <summary>A fresh launcher, bwrap and interpreter per run (≈ 25 ms of setup each).</summary>
    Cold,
    /// <summary>One long-lived sandbox per worker whose pid-1 server forks a fresh child per run and wipes every trace
    /// of it afterwards; a run that breaks the server is re-run cold.</summary>
    Warm,
}
