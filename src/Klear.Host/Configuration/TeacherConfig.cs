namespace Klear.Host.Configuration;

/// <summary>One source of SFT traces for the arithmetic task.</summary>
public sealed record TeacherConfig
{
    public string Name { get; init; } = "teacher";
    /// <summary>Share of this teacher's traces that contain one arithmetic slip (and so a wrong answer).</summary>
    public double WrongShare { get; init; } = 0.0;
    /// <summary>Relative share of SFT examples written by this teacher.</summary>
    public double Weight { get; init; } = 1.0;
}
