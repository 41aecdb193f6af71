namespace Klear.Host.Rewards.Code;

/// <summary>All test verdicts for one program.</summary>
public sealed record CodeEvaluation(IReadOnlyList<CodeTestResult> Results)
{
    public int Passed => Results.Count(r => r.Status == CodeTestStatus.Passed);
    public int Total => Results.Count;
    public double PassRatio => Total == 0 ? 0.0 : (double)Passed / Total;
    /// <summary>"Correct" in the paper's sense: every test passed (and there was at least one).</summary>
    public bool AllPassed => Total > 0 && Passed == Total;
}
