using System.ComponentModel;

namespace Klear.Host.Configuration;

/// <summary>One source of SFT traces for the arithmetic task.</summary>
public sealed record TeacherConfig
{
    [Description("The teacher's name")]
    public string Name { get; init; } = "teacher";
    [Description("Share of this teacher's traces that contain one arithmetic slip (and so a wrong answer)")]
    public double WrongShare { get; init; } = 0.0;
    [Description("Relative share of SFT examples written by this teacher")]
    public double Weight { get; init; } = 1.0;
}
