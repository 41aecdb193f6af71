namespace Klear.Host.Evaluation;

/// <summary>
/// maj@k for one problem: each sample votes with its answer, answers the reward judges the same pool their votes, and
/// the group with the most votes wins (ties: the group seen first). The vote is correct when a sample in the winning
/// group was — they share one answer, and differ only where a format gate (e.g. a missing &lt;/think&gt;) failed one.
/// </summary>
public static class MajorityVote
{
    public static bool IsCorrect(IReadOnlyList<string?> answers, IReadOnlyList<bool> correct, Func<string, string, bool> same)
    {
        if (answers.Count != correct.Count) throw new ArgumentException($"{answers.Count} answers but {correct.Count} verdicts");
        // Each group is represented by its first answer; "same" need not be transitive, so membership is decided
        // against that one answer only, in order, which makes the grouping deterministic.
        var groups = new List<(string Representative, int Votes, bool AnyCorrect)>();
        for (int i = 0; i < answers.Count; i++)
        {
            if (answers[i] is not { } answer) continue;
            var g = groups.FindIndex(x => same(x.Representative, answer));
            if (g < 0) groups.Add((answer, 1, correct[i]));
            else groups[g] = (groups[g].Representative, groups[g].Votes + 1, groups[g].AnyCorrect || correct[i]);
        }
        if (groups.Count == 0) return false;
        var best = groups[0];
        foreach (var x in groups) if (x.Votes > best.Votes) best = x;
        return best.AnyCorrect;
    }
}
