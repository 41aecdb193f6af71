using System.Text.Json;
using Klear.Host.Data;
using Klear.Host.Evaluation;

namespace Klear.Host.Training;

/// <summary>
/// Evaluation split over ranks: each rank samples a contiguous part of the problems (with the seeds they have in the
/// whole set), the per-problem results are gathered in order, and every rank summarises the same whole.
/// </summary>
public static class EvalShards
{
    public static (EvalSummary Summary, IReadOnlyList<ProblemResult> Results) Run(Evaluator evaluator, IReadOnlyList<VerlRow> problems,
        Func<VerlRow, string> render, long seed, ICollectives world)
    {
        if (world.Size == 1) return evaluator.Run(problems, render, seed);
        var (first, end) = Shard.Range(problems.Count, world.Rank, world.Size);
        var (mine, tokens, responses) = evaluator.Sample(problems.Skip(first).Take(end - first).ToList(), render, seed, first);
        var results = world.AllGather(JsonSerializer.SerializeToUtf8Bytes(mine))
            .SelectMany(b => JsonSerializer.Deserialize<ProblemResult[]>(b)!).ToList();
        var counts = world.Sum(tokens, responses);
        return (EvalSummary.Of(results, counts[0] / counts[1]), results);
    }
}
