namespace Klear.Host.Rewards.Sandbox;

/// <summary>One program to run on one input.</summary>
/// <param name="Timeout">Wall-clock limit for this run; null takes the sandbox's default.</param>
public sealed record SandboxRequest(string Program, string Stdin = "", TimeSpan? Timeout = null);
