namespace Klear.Host.Data;

/// <summary>
/// A programmatic teacher that writes SFT traces; <see cref="WrongShare"/> of its traces contain one arithmetic slip
/// that carries through to a wrong answer. Several sources of different quality model the paper's SFT-data ablations
/// (Tables 2–5: correctness of traces, number and quality of sources).
/// </summary>
public sealed record TeacherSource(string Name, double WrongShare)
{
    public static readonly TeacherSource Perfect = new("perfect", 0.0);
}
