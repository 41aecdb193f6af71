namespace Klear.Host.Rewards.Sandbox;

/// <summary>The spellings of <see cref="SandboxMode"/> in config files and on the command line.</summary>
public static class SandboxModeNames
{
    public const string Valid = "warm, cold";

    /// <summary>"warm" or "cold" (any case); null for anything else, so each caller can say where it came from.</summary>
    public static SandboxMode? Parse(string? text) => text?.Trim().ToLowerInvariant() switch
    {
        "warm" => SandboxMode.Warm,
        "cold" => SandboxMode.Cold,
        _ => null,
    };
}
