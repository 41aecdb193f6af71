using Klear.Host.Metrics;

namespace Klear.Host.Evaluation;

/// <summary>avg@k (mean accuracy over k samples per problem), pass@k (unbiased), maj@k and greedy accuracy.</summary>
public sealed record EvalSummary(int Problems, int K, double AvgAtK, double PassAtK, double MajAtK, double? Greedy, double MeanResponseTokens)
{
    public static EvalSummary Of(IReadOnlyList<ProblemResult> results, double meanResponseTokens)
    {
        var k = results.Count == 0 ? 0 : results[0].Correct.Length;
        return new EvalSummary(
            results.Count, k,
            results.Count == 0 ? 0 : results.Average(r => r.Accuracy),
            results.Count == 0 || k == 0 ? 0 : results.Average(r => Evaluation.PassAtK.Estimate(k, r.Correct.Count(c => c), k)),
            results.Count == 0 ? 0 : results.Average(r => r.MajorityCorrect ? 1.0 : 0.0),
            results.Count == 0 || results[0].GreedyCorrect is null ? null : results.Average(r => r.GreedyCorrect == true ? 1.0 : 0.0),
            meanResponseTokens);
    }

    public Dictionary<string, double> ToMetrics()
    {
        var m = new Dictionary<string, double>
        {
            [$"val/avg@{K}"] = AvgAtK, [$"val/pass@{K}"] = PassAtK, [$"val/maj@{K}"] = MajAtK,
            ["val/response_length"] = MeanResponseTokens,
        };
        if (Greedy is { } g) m["val/greedy"] = g;
        return m;
    }

    /// <summary>The summary as a one-row Markdown table (plain text: it goes to logs as well as terminals).</summary>
    public string Table() => PlainText.Render(
        PlainText.Table(">problems", $">avg@{K}", $">pass@{K}", $">maj@{K}", ">greedy", ">mean response tokens")
            .Row($"{Problems}", $"{AvgAtK:0.0000}", $"{PassAtK:0.0000}", $"{MajAtK:0.0000}", Greedy is { } g ? $"{g:0.0000}" : "-", $"{MeanResponseTokens:0.0}"));
}
