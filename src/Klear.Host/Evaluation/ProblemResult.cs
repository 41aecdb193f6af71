namespace Klear.Host.Evaluation;

/// <summary>One problem's evaluation: its k sampled responses, their correctness, the majority vote (see
/// <see cref="MajorityVote"/>) and the greedy pass.</summary>
public sealed record ProblemResult(
    string Id,
    string Prompt,
    string GroundTruth,
    string[] Responses,
    bool[] Correct,
    bool MajorityCorrect,
    bool? GreedyCorrect,
    string? GreedyResponse)
{
    public double Accuracy => Correct.Length == 0 ? 0 : Correct.Count(c => c) / (double)Correct.Length;
}
