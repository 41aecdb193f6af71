using Klear.Host.Configuration;
using Klear.Algorithms;
using Klear.Host.Data;
using Klear.Host.Model;
using Klear.Host.Rewards;
using Klear.Host.Rollout;
using Klear.Host.Tokenization;
using TorchSharp;
using static TorchSharp.torch;

namespace Klear.Host.Training;

/// <summary>
/// One RL step of the paper's recipe: draw prompts (oversampled), n rollouts each, rewards, group advantages, drop
/// zero-advantage groups (keep up to the target number of informative ones), recompute old log-probs, then several
/// optimizer steps over mini-batches (later ones are off-policy), each accumulated over micro-batches with the loss
/// algebra (default GPPO 0.2/0.28, dual clip 10, + alpha·NLL on correct rollouts). A step whose gradient norm is not
/// finite is skipped and counted. Every random draw is keyed by (seed, step), so a resumed run repeats exactly.
/// Data parallel over the ranks of <see cref="ICollectives"/>: each rank generates and scores whole prompt groups (with
/// the seeds one process would give them), the rollouts are gathered so the filter and advantages are global, each
/// mini-batch is split over ranks with its normalisers and gradients all-reduced: every rank takes the step one process
/// takes (docs/distributed.md).
/// </summary>
public sealed class RlTrainer
{
    readonly Qwen3ForCausalLM _model;
    readonly Qwen3ForCausalLM? _reference;
    readonly ITokenizer _tokenizer;
    readonly ITrainingTask _task;
    readonly RewardRegistry _rewards;
    readonly RunConfig _config;
    readonly SpecialTokens _special;
    readonly Loss _loss;
    readonly AdvantageEstimator _estimator;
    readonly ICollectives _world;
    readonly Dictionary<string, double> _seconds = new(StringComparer.Ordinal);
    readonly RolloutCorrection _correction;
    readonly OverlongPenalty _overlong;

    public int SkippedSteps { get; set; }

    public RlTrainer(Qwen3ForCausalLM model, Qwen3ForCausalLM? reference, ITokenizer tokenizer, ITrainingTask task,
        RewardRegistry rewards, RunConfig config, ICollectives? world = null)
    {
        (_model, _reference, _tokenizer, _task, _rewards, _config) = (model, reference, tokenizer, task, rewards, config);
        _world = world ?? SingleProcess.Instance;
        _special = SpecialTokens.From(tokenizer);
        // The same builder TrainingRun runs before any work, so what is checked up front is what trains.
        var parts = RlComponents.Create(config);
        (_loss, _estimator, Schedule, _correction, _overlong) = (parts.Loss, parts.Estimator, parts.Schedule, parts.Correction, parts.Overlong);
        if (config.Actor.KlLossCoef != 0 && reference is null)
            throw new ConfigException("actor.kl_loss_coef is set but no reference policy was given");
    }

    public TorchSharp.Modules.OptimizerHelper CreateOptimizer() =>
        new LeanAdamW(_model.parameters(), _config.Actor.Lr, 0.9, 0.999, 1e-8, _config.Actor.WeightDecay);

    public LearningRateSchedule Schedule { get; }

    /// <summary>The rollouts of one step, after rewards and the filter.</summary>
    public sealed record Rollouts(int[][] Prompts, int[][] Responses, double[] Scores, bool[] Correct, bool[] Finished,
        int Groups, int KeptGroups, double[] Advantages)
    {
        /// <summary>Scores, correctness, lengths and finished flags of every rollout drawn, before the filter.</summary>
        public required double[] AllScores { get; init; }
        public required bool[] AllCorrect { get; init; }
        public required int[] AllLengths { get; init; }
        public required bool[] AllFinished { get; init; }
        /// <summary>Each response token's log-prob under the distribution the sampler really drew it from
        /// (temperature, top-k/top-p renormalised); the rollout correction needs it.</summary>
        public float[][]? SamplerLogProbs { get; init; }
    }

    /// <summary>Generates and scores the rollouts of <paramref name="step"/>, filters groups and computes advantages.</summary>
    public Rollouts Collect(int step)
    {
        var cfg = _config;
        int n = cfg.Rollout.N;
        int drawn = RlComponents.PromptsDrawn(cfg.Trainer);
        var rows = Enumerable.Range(0, drawn).Select(i => _task.RlPrompt((long)step * drawn + i)).ToList();
        var promptIds = rows.Select(r => _special.EncodePrompt(_tokenizer, _task.RenderPrompt(r))).ToList();
        // This rank's whole groups; concatenated in rank order they are the groups of one process, in its order.
        var (first, end) = Shard.Range(drawn, _world.Rank, _world.Size);
        var clock = System.Diagnostics.Stopwatch.StartNew();
        var mine = Generate(step, promptIds, n, first, end);
        _seconds["gen"] = clock.Elapsed.TotalSeconds;
        var (myScores, myCorrect) = ScoreRewards(rows, mine, n, first);
        _seconds["reward"] = clock.Elapsed.TotalSeconds - _seconds["gen"];
        var all = RolloutShard.Gather(_world, new RolloutShard(mine.Tokens, mine.Finished, mine.LogProbs, myScores, myCorrect));
        var (generated, scores, correct) = (all, all.Scores, all.Correct);

        // Zero-advantage filter (Fig. 5): a group whose rewards have no spread teaches nothing.
        var zero = cfg.Algorithm.FilterZeroAdvGroups ? ZeroAdvantageGroups(scores, drawn, n) : new bool[drawn];
        var kept = Enumerable.Range(0, drawn).Where(g => !zero[g]).Take(cfg.Trainer.PromptsPerStep).ToList();
        var keptIdx = kept.SelectMany(g => Enumerable.Range(g * n, n)).ToArray();
        var advantages = GroupAdvantages(keptIdx.Select(k => scores[k]).ToArray(), kept.Count, n);
        return new Rollouts(keptIdx.Select(k => promptIds[k / n]).ToArray(), keptIdx.Select(k => generated.Tokens[k]).ToArray(),
            keptIdx.Select(k => scores[k]).ToArray(), keptIdx.Select(k => correct[k]).ToArray(),
            keptIdx.Select(k => generated.Finished[k]).ToArray(), drawn, kept.Count, advantages)
        {
            AllScores = scores, AllCorrect = correct,
            AllLengths = generated.Tokens.Select(t => t.Length).ToArray(), AllFinished = generated.Finished,
            SamplerLogProbs = keptIdx.Select(k => generated.LogProbs[k]).ToArray(),
        };
    }

    /// <summary><paramref name="n"/> rollouts of each prompt of groups [<paramref name="first"/>, <paramref name="end"/>),
    /// each with its own seed keyed by (seed, step, index in the whole step).</summary>
    GenerationResult Generate(int step, List<int[]> promptIds, int n, int first, int end)
    {
        var cfg = _config;
        int count = promptIds.Count * n;
        if (end <= first) return new GenerationResult([], [], []);
        var ks = Enumerable.Range(first * n, (end - first) * n).ToList();
        var requests = ks.Select(k => promptIds[k / n]).ToList();
        var seeds = ks.Select(k => SeedSequence.Derive(cfg.Seed, "rollout", (long)step * count + k)).ToList();
        _model.eval();
        using var copy = GenerationPrecision.CopyFor(_model, GenerationPrecision.Parse("rollout.dtype", cfg.Rollout.Dtype));
        return new Sampler(copy ?? _model).Generate(requests, SamplingSettings.Of(cfg.Rollout, _special.Eos, _special.Pad), seeds);
    }

    /// <summary>The reward of every rollout (rollout k answers prompt first + k / n), scored in parallel, plus the
    /// overlong penalty of its length when that is on (correctness is the rule reward's alone).</summary>
    (double[] Scores, bool[] Correct) ScoreRewards(List<VerlRow> rows, GenerationResult generated, int n, int first)
    {
        var scores = new double[generated.Tokens.Length];
        var correct = new bool[generated.Tokens.Length];
        Parallel.For(0, scores.Length, k =>
        {
            var row = rows[first + k / n];
            var text = _tokenizer.Decode(generated.Tokens[k].Where(t => t != _special.Eos).ToArray());
            var r = _rewards.Get(row.DataSource).ScoreAsync(text, row.GroundTruth).GetAwaiter().GetResult();
            (scores[k], correct[k]) = (r.Score + _overlong.Of(generated.Tokens[k].Length), r.Correct);
        });
        return (scores, correct);
    }

    static bool[] ZeroAdvantageGroups(double[] scores, int groups, int n)
    {
        using var scope = torch.NewDisposeScope();
        return Advantages.zeroAdvantageGroups(torch.tensor(scores, [groups, n], ScalarType.Float64)).data<bool>().ToArray();
    }

    /// <summary>The estimator's advantages of <paramref name="groups"/> groups of <paramref name="n"/> scores each.</summary>
    double[] GroupAdvantages(double[] scores, int groups, int n)
    {
        if (groups == 0) return [];
        using var scope = torch.NewDisposeScope();
        return Advantages.compute(_estimator, torch.tensor(scores, [groups, n], ScalarType.Float64)).flatten().data<double>().ToArray();
    }

    /// <summary>One RL step: rollouts, then the updates. Returns the step's metrics (verl's names).</summary>
    public Dictionary<string, double> Step(optim.Optimizer optimizer, int step)
    {
        var clock = System.Diagnostics.Stopwatch.StartNew();
        var comm = _world.Stats.Snapshot();
        var ro = Collect(step);
        var genSeconds = clock.Elapsed.TotalSeconds;
        var m = new Dictionary<string, double>
        {
            ["critic/score/mean"] = ro.AllScores.Average(),
            ["reward/accuracy"] = ro.AllCorrect.Average(c => c ? 1.0 : 0.0),
            ["response_length/mean"] = ro.AllLengths.Average(),
            ["response_length/clip_ratio"] = ro.AllFinished.Average(f => f ? 0.0 : 1.0),
            ["rl/groups"] = ro.Groups,
            ["rl/kept_groups"] = ro.KeptGroups,
            ["perf/gen_tokens_per_s"] = ro.AllLengths.Sum() / Math.Max(genSeconds, 1e-9),
            ["perf/gen_seconds"] = _seconds["gen"],
            ["perf/reward_seconds"] = _seconds["reward"],
        };
        if (_overlong.IsOn) m["reward/overlong_penalty/mean"] = ro.AllLengths.Average(l => _overlong.Of(l));
        var lr = Schedule.At(step);
        foreach (var g in optimizer.ParamGroups) g.LearningRate = lr;
        m["charts/lr"] = lr;
        if (ro.KeptGroups == 0)
        {
            m["rl/skipped_steps"] = SkippedSteps;
            return m;
        }
        var update = System.Diagnostics.Stopwatch.StartNew();
        foreach (var (k, v) in Update(optimizer, step, ro)) m[k] = v;
        m["rl/skipped_steps"] = SkippedSteps;
        m["perf/update_seconds"] = update.Elapsed.TotalSeconds;
        m["perf/step_seconds"] = clock.Elapsed.TotalSeconds;
        var after = _world.Stats.Snapshot();
        m["perf/allreduce_seconds"] = after.Seconds - comm.Seconds;
        m["perf/allreduce_bytes"] = after.Bytes - comm.Bytes;
        return m;
    }

    /// <summary>The updates of one step on collected rollouts (public so tests can poison the model between the two).</summary>
    public Dictionary<string, double> Update(optim.Optimizer optimizer, int step, Rollouts ro)
    {
        using var scope = torch.NewDisposeScope();
        using var metrics = new MetricAccumulator();
        var gradNorms = new List<double>();

        // Mini-batches over a seeded shuffle of the sequences; each takes one optimizer step. Each rank takes its part
        // of every mini-batch, and scores (old policy) only the sequences it trains on: together the ranks cover all.
        var order = Enumerable.Range(0, ro.Responses.Length).ToArray();
        new Random((int)(Data.SeedSequence.Derive(_config.Seed, "minibatch", step) & int.MaxValue)).Shuffle(order);
        var minis = Split(order, _config.Actor.MiniBatches).Select(_world.Mine).ToList();
        var rows = _world.Size == 1 ? Enumerable.Range(0, order.Length).ToArray() : minis.SelectMany(x => x).Order().ToArray();
        var position = new int[order.Length];
        for (int i = 0; i < rows.Length; i++) position[rows[i]] = i;
        var scored = rows.Length > 0 ? ScoreOldPolicy(ro, rows) : null;
        _model.train();
        _model.ActivationCheckpointing = _config.Actor.ActivationCheckpointing;
        foreach (var mini in minis)
        {
            var norm = UpdateMiniBatch(optimizer, scored, mini.Select(i => position[i]).ToArray(), metrics);
            if (double.IsFinite(norm)) gradNorms.Add(norm);
            else SkippedSteps++;
        }
        // The policy's entropy before the update, over every response token of the step.
        if (scored is not null)
        {
            metrics.Set("actor/entropy", Metric.TokenMean(scored.Mask, scored.Entropy));
            foreach (var (name, metric) in scored.CorrectionMetrics) metrics.Set(name, metric);
        }
        metrics.AllReduce(_world);
        var m = metrics.Read();
        m["actor/grad_norm"] = gradNorms.Count > 0 ? gradNorms.Average() : double.NaN;
        return m;
    }

    /// <summary>The step's sequences with what the loss reads besides the new log-probs: the old (and reference)
    /// policy's log-probs and entropies, advantages per token, correctness per sequence; the rollout correction's
    /// weights and metrics, and the rows kept in the loss (null: all), when those are on.</summary>
    sealed record Scored(SequenceBatch Batch, Tensor OldLogp, Tensor Entropy, Tensor RefLogp, Tensor Advantages, Tensor Correct)
    {
        public Tensor Mask => Batch.ResponseMask;
        public Tensor? IsWeights { get; init; }
        public Tensor? Keep { get; init; }
        public IReadOnlyList<KeyValuePair<string, Metric>> CorrectionMetrics { get; init; } = [];

        /// <summary>Prompt + response tokens of each row (its length before padding).</summary>
        public required int[] Lengths { get; init; }

        /// <summary>Rows <paramref name="idx"/> of a per-token [B, T-1] tensor, cut to <paramref name="length"/> tokens when given.</summary>
        public Tensor Cut(Tensor perToken, Tensor idx, int? length) =>
            length is { } l ? perToken.index_select(0, idx).narrow(1, 0, l - 1) : perToken.index_select(0, idx);

        /// <summary>The loss inputs of the sequences <paramref name="idx"/> given their current log-probs; with
        /// <paramref name="length"/>, cut to that many tokens (the scorer's [B, length - 1] positions).</summary>
        public LossInputs Inputs(Tensor idx, Tensor logp, Tensor? entropyWithGrad = null, int? length = null)
        {
            return LossInputs.Of(PolicyBatch.Create(logp, Cut(OldLogp, idx, length), Cut(Advantages, idx, length), Cut(Mask, idx, length))
                    .WithIsWeights(IsWeights is null ? null! : Cut(IsWeights, idx, length)))
                .WithCorrect(Correct.index_select(0, idx))
                .WithRefLogp(Cut(RefLogp, idx, length))
                .WithEntropy(entropyWithGrad)
                .KeepRows(Keep?.index_select(0, idx)!);
        }
    }

    /// <summary>The old policy's view of sequences <paramref name="rows"/> of the step (padded to the step's length, as
    /// one process pads them).</summary>
    Scored ScoreOldPolicy(Rollouts ro, int[] rows)
    {
        var temperature = _config.Rollout.Temperature;
        var device = _model.Device;
        var batch = SequenceBatch.Create(ro.Prompts, ro.Responses, _special.Pad, device);
        if (rows.Length != ro.Responses.Length) batch = batch.Rows(rows);
        using var _ = torch.no_grad();
        _model.eval();
        var (oldLogp, entropy) = SequenceScorer.Score(_model, batch.InputIds, temperature: temperature);
        var refLogp = _reference is null ? oldLogp : SequenceScorer.Score(_reference, batch.InputIds, temperature: temperature).LogProbs;
        var lengths = rows.Select(i => ro.Prompts[i].Length + ro.Responses[i].Length).ToArray();
        var adv = Advantages.toTokens(torch.tensor(rows.Select(i => ro.Advantages[i]).ToArray(), ScalarType.Float32, device), batch.ResponseMask); // [B, T-1]
        var correct = torch.tensor(rows.Select(i => ro.Correct[i] ? 1f : 0f).ToArray(), device: device);                               // [B]
        // actor.mask_truncated: a response cut off at max_new_tokens leaves every term of the loss.
        var keep = _config.Actor.MaskTruncated ? torch.tensor(rows.Select(i => ro.Finished[i] ? 1f : 0f).ToArray(), device: device) : null;
        if (!_correction.IsActive)
            return new Scored(batch, oldLogp, entropy, refLogp, adv, correct) { Keep = keep, Lengths = lengths };
        if (ro.SamplerLogProbs is null)
            throw new InvalidOperationException("the rollout correction is on but the rollouts carry no sampler log-probs");
        var samplerLogp = batch.AlignToResponses(rows.Select(i => ro.SamplerLogProbs[i]).ToList());
        var (weights, correctionMetrics) = _correction.Weights(oldLogp, samplerLogp, batch.ResponseMask);
        return new Scored(batch, oldLogp, entropy, refLogp, adv, correct)
        {
            Keep = keep, Lengths = lengths, IsWeights = weights, CorrectionMetrics = correctionMetrics.ToList(),
        };
    }

    /// <summary>One optimizer step on the sequences <paramref name="mini"/>, its gradient accumulated over
    /// micro-batches; returns the gradient norm (the step is not taken when it is not finite). Under several ranks
    /// <paramref name="mini"/> is this rank's part (maybe empty), split into ⌈micro_batches / ranks⌉ micro-batches;
    /// the normalisers and the gradient are the whole mini-batch's, so the norm and the skip are the same everywhere.</summary>
    double UpdateMiniBatch(optim.Optimizer optimizer, Scored? scored, int[] mini, MetricAccumulator metrics)
    {
        using var miniScope = torch.NewDisposeScope();
        var micro = mini.Length == 0 || scored is null ? [] : MicroBatches(mini, scored).ToList();
        // Normalisers read masks only, so the old log-probs stand in for the not yet computed ones.
        var norms = _world.GlobalNormalisers(_loss, micro.Select(m => scored!.Inputs(m.Rows, scored.Cut(scored.OldLogp, m.Rows, m.Length), length: m.Length)).ToList());
        var bonus = _config.Actor.EntropyCoeff != 0;
        optimizer.zero_grad();
        foreach (var (idx, length) in micro)
        {
            using var microScope = torch.NewDisposeScope();
            var ids = scored!.Batch.InputIds.index_select(0, idx);
            if (length is { } l) ids = ids.narrow(1, 0, l);
            var (logp, ent) = SequenceScorer.Score(_model, ids, temperature: _config.Rollout.Temperature, entropyGrad: bonus);
            var output = _loss.EvaluateMicro(norms, scored.Inputs(idx, logp, bonus ? ent : null, length));
            output.Total.backward();
            metrics.Add(output.Metrics);
        }
        _world.AllReduceGradients(_model.parameters());
        var norm = nn.utils.clip_grad_norm_(_model.parameters(), _config.Actor.GradClip);
        if (double.IsFinite(norm)) optimizer.step();
        optimizer.zero_grad();
        return norm;
    }

    /// <summary>
    /// The micro-batches of this rank's part of a mini-batch: actor.micro_batches equal parts, or with
    /// actor.micro_max_tokens the rows sorted by length (longest first) and packed while rows × longest stays within the
    /// budget (a longer row alone), each cut to its longest row (Length; null: the step's padded length). The partition
    /// does not change the loss: the normalisers are the whole mini-batch's.
    /// </summary>
    IEnumerable<(Tensor Rows, int? Length)> MicroBatches(int[] mini, Scored scored)
    {
        Tensor Ids(IEnumerable<int> rows) => torch.tensor(rows.Select(i => (long)i).ToArray(), device: _model.Device);
        int budget = _config.Actor.MicroMaxTokens;
        if (budget == 0)
        {
            foreach (var part in Split(mini, (_config.Actor.MicroBatches + _world.Size - 1) / _world.Size)) yield return (Ids(part), null);
            yield break;
        }
        var byLength = mini.OrderByDescending(i => scored.Lengths[i]).ThenBy(i => i).ToArray();
        for (int start = 0; start < byLength.Length;)
        {
            int longest = scored.Lengths[byLength[start]], end = start + 1;
            while (end < byLength.Length && (end - start + 1) * longest <= budget) end++;
            yield return (Ids(byLength[start..end]), longest);
            start = end;
        }
    }

    static IEnumerable<int[]> Split(int[] items, int parts)
    {
        parts = Math.Min(parts, items.Length);
        for (int p = 0; p < parts; p++)
        {
            int start = items.Length * p / parts, end = items.Length * (p + 1) / parts;
            yield return items[start..end];
        }
    }
}
