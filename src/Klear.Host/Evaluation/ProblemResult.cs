namespace Klear.Host.Evaluation;

/// <summary>One problem's evaluation: its k sampled responses, their correctness and answers, and the greedy pass.</summary>
public sealed record ProblemResult(
    string Id,
    string Prompt,
    string GroundTruth,
    string[] Responses,
    bool[] Correct,
    string?[] Answers,
    bool? GreedyCorrect,
    string? GreedyResponse)
{
    public double Accuracy => Correct.Length == 0 ? 0 : Correct.Count(c => c) / (double)Correct.Length;

    /// <summary>Majority vote over the extracted answers (ties: the first seen); correct when its sample was.</summary>
    public bool MajorityCorrect
    {
        get
        {
            var votes = Answers.Select((a, i) => (a, i)).Where(x => x.a is not null)
                .GroupBy(x => x.a).OrderByDescending(g => g.Count()).ThenBy(g => g.First().i).FirstOrDefault();
            return votes is not null && Correct[votes.First().i];
        }
    }
}
