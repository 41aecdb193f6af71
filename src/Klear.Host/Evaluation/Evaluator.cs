using Klear.Host.Configuration;
using System.Text.Json.Nodes;
using Klear.Host.Data;
using Klear.Host.Model;
using Klear.Host.Rewards;
using Klear.Host.Rollout;
using Klear.Host.Tokenization;

namespace Klear.Host.Evaluation;

/// <summary>
/// Samples k responses per problem (the paper: T 0.6, top-p 0.95) plus an optional greedy pass, scores them with the
/// reward registry, and summarises avg@k, pass@k, maj@k. Sample j of problem i uses seed (run seed, "eval", i·k + j),
/// so the same seed evaluates identically whatever the batch size.
/// </summary>
public sealed class Evaluator(Qwen3ForCausalLM model, ITokenizer tokenizer, RewardRegistry rewards, EvalConfig config)
{
    readonly SpecialTokens _special = SpecialTokens.From(tokenizer);

    /// <param name="progress">Called after each generation batch with (samples drawn, samples in all).</param>
    public (EvalSummary Summary, IReadOnlyList<ProblemResult> Results) Run(IReadOnlyList<VerlRow> problems, Func<VerlRow, string> render, long seed,
                                                                          Action<int, int>? progress = null)
    {
        var (results, tokens, responses) = Sample(problems, render, seed, progress: progress);
        return (EvalSummary.Of(results, tokens / (double)responses), results);
    }

    /// <summary>
    /// The per-problem results of <paramref name="problems"/>, which are problems <paramref name="firstIndex"/>, … of a
    /// larger set (their seeds are the ones they have there, so a set split into parts evaluates as the whole does),
    /// with the total tokens and count of the sampled responses.
    /// </summary>
    public (ProblemResult[] Results, long ResponseTokens, long Responses) Sample(IReadOnlyList<VerlRow> problems,
        Func<VerlRow, string> render, long seed, int firstIndex = 0, Action<int, int>? progress = null)
    {
        if (problems.Count == 0) return ([], 0, 0);
        model.eval();
        using var copy = GenerationPrecision.CopyFor(model, GenerationPrecision.Parse("eval.dtype", config.Dtype));
        var sampler = new Sampler(copy ?? model);
        var prompts = problems.Select(p => _special.EncodePrompt(tokenizer, render(p))).ToArray();
        int n = problems.Count, k = config.K;
        var responses = new int[n][][];
        for (int i = 0; i < n; i++) responses[i] = new int[k][];
        var greedy = config.Greedy ? new int[n][] : null;

        // Requests are (problem, sample) pairs; a batch mixes them freely because each has its own seed.
        var requests = Enumerable.Range(0, n).SelectMany(i => Enumerable.Range(0, k).Select(j => (i, j))).ToList();
        var sampling = SamplingSettings.Of(config, _special.Eos, _special.Pad);
        int drawn = 0;
        foreach (var chunk in requests.Chunk(Math.Max(1, config.BatchSize)))
        {
            var result = sampler.Generate(chunk.Select(r => prompts[r.i]).ToList(), sampling,
                chunk.Select(r => SeedSequence.Derive(seed, "eval", (long)(firstIndex + r.i) * k + r.j)).ToList());
            for (int c = 0; c < chunk.Length; c++) responses[chunk[c].i][chunk[c].j] = result.Tokens[c];
            drawn += chunk.Length;
            progress?.Invoke(drawn, requests.Count);
        }
        if (greedy is not null)
            foreach (var chunk in Enumerable.Range(0, n).Chunk(Math.Max(1, config.BatchSize)))
            {
                var result = sampler.Generate(chunk.Select(i => prompts[i]).ToList(), SamplingSettings.Greedy(sampling));
                for (int c = 0; c < chunk.Length; c++) greedy[chunk[c]] = result.Tokens[c];
            }

        var results = new ProblemResult[n];
        Parallel.For(0, n, i =>
        {
            var row = problems[i];
            var reward = rewards.Get(row.DataSource);
            var texts = responses[i].Select(Decode).ToArray();
            var scored = texts.Select(t => reward.ScoreAsync(t, row.GroundTruth).GetAwaiter().GetResult()).ToArray();
            string? greedyText = greedy is null ? null : Decode(greedy[i]);
            bool? greedyCorrect = greedyText is null ? null : reward.ScoreAsync(greedyText, row.GroundTruth).GetAwaiter().GetResult().Correct;
            var correct = scored.Select(s => s.Correct).ToArray();
            var majority = MajorityVote.IsCorrect(scored.Select(s => s.Answer).ToArray(), correct, reward.SameAnswer);
            results[i] = new ProblemResult(row.Origin, render(row), row.GroundTruth, texts, correct, majority, greedyCorrect, greedyText);
        });
        return (results, responses.SelectMany(r => r).Sum(r => (long)r.Length), (long)n * k);
    }

    string Decode(int[] ids) => tokenizer.Decode(ids.Where(t => t != _special.Eos && t != _special.Pad).ToArray());

    /// <summary>Per-problem results as JSON Lines.</summary>
    public static void Save(string path, IEnumerable<ProblemResult> results)
    {
        Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(path))!);
        using var w = new StreamWriter(path);
        foreach (var r in results)
            w.WriteLine(new JsonObject
            {
                ["id"] = r.Id, ["prompt"] = r.Prompt, ["ground_truth"] = r.GroundTruth, ["accuracy"] = r.Accuracy,
                ["majority_correct"] = r.MajorityCorrect, ["greedy_correct"] = r.GreedyCorrect, ["greedy_response"] = r.GreedyResponse,
                ["responses"] = new JsonArray(r.Responses.Select(x => (JsonNode?)x).ToArray()),
                ["correct"] = new JsonArray(r.Correct.Select(x => (JsonNode?)x).ToArray()),
            }.ToJsonString());
    }
}
