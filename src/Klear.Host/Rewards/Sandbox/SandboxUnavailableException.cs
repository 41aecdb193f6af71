namespace Klear.Host.Rewards.Sandbox;

/// <summary>
/// The isolation tools are missing or do not work. Untrusted code is then never run at all: a silent fallback to a
/// bare interpreter would hand RL policies the host.
/// </summary>
public sealed class SandboxUnavailableException(string message) : Exception(message);
