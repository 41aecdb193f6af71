using Klear.Host.Configuration;
using Klear.Host.Data;
using Klear.Host.Model;
using Klear.Host.Rewards;
using Klear.Host.Tokenization;

namespace Klear.Host.Evaluation;

/// <summary>
/// The paper's preprocessing of code RL prompts: k responses per prompt from a reference policy, drawn and scored by
/// the <see cref="Evaluator"/> (the trainer's sampler and reward registry, <c>eval.*</c> sampling, no greedy pass),
/// and a prompt is kept when the share of its samples with full reward (correct: for code, every test passed) is at
/// least <paramref name="min"/>. Sample j of prompt i uses seed (seed, "eval", i·k + j), as an evaluation does, so
/// the same seed keeps the same rows whatever the batch size.
/// </summary>
public sealed class PassRateFilter(Qwen3ForCausalLM model, ITokenizer tokenizer, RewardRegistry rewards, EvalConfig sampling, double min)
{
    readonly Evaluator _evaluator = new(model, tokenizer, rewards, sampling with { Greedy = false });

    public int K => sampling.K;
    public double Min => min;

    /// <param name="progress">Called after each generation batch with (samples drawn, samples in all).</param>
    public IReadOnlyList<PassRateVerdict> Run(IReadOnlyList<VerlRow> rows, Func<VerlRow, string> render, long seed,
                                              Action<int, int>? progress = null)
    {
        if (!(min >= 0 && min <= 1)) throw new ArgumentOutOfRangeException(nameof(min), min, "the minimum pass rate must be in [0, 1]");
        var (_, results) = _evaluator.Run(rows, render, seed, progress);
        return results.Select((r, i) =>
        {
            var correct = r.Correct.Count(c => c);
            return new PassRateVerdict(rows[i], correct, r.Correct.Length, correct / (double)r.Correct.Length >= min);
        }).ToList();
    }
}
