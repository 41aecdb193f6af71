using Klear.Algorithms;
using Klear.Host.Configuration;
using Klear.Host.Metrics;
using Klear.Host.Model;
using Klear.Host.Rollout;
using Klear.Host.Tokenization;
using TorchSharp;
using static TorchSharp.torch;

namespace Klear.Host.Training;

/// <summary>
/// Long-CoT SFT: response-only NLL (token-mean over the batch's response tokens), AdamW, warm-up then cosine decay
/// from a peak to a floor learning rate, gradient clipping. Which examples each step takes is the <see cref="SftPlan"/>
/// (a fixed number of sequences, or a token budget; a number of steps, or epochs over a finite data set).
/// Under several ranks each takes its contiguous part of the step's batch; the token count of the whole batch and the
/// gradients are all-reduced, so every rank takes the one-process step.
/// </summary>
public sealed class SftTrainer
{
    readonly Qwen3ForCausalLM model;
    readonly ITokenizer tokenizer;
    readonly ITrainingTask task;
    readonly SftConfig config;
    readonly SpecialTokens _special;
    readonly ICollectives _world;

    public SftTrainer(Qwen3ForCausalLM model, ITokenizer tokenizer, ITrainingTask task, SftConfig config, ICollectives? world = null)
    {
        (this.model, this.tokenizer, this.task, this.config) = (model, tokenizer, task, config);
        _world = world ?? SingleProcess.Instance;
        _special = SpecialTokens.From(tokenizer);
        Plan = SftPlan.Create(config, task.SftCount, i => Length(Encode(task.SftExample(i))));
    }

    public SftPlan Plan { get; }

    public TorchSharp.Modules.OptimizerHelper CreateOptimizer() =>
        new LeanAdamW(model.parameters(), config.Lr, config.Beta1, config.Beta2, 1e-8, config.WeightDecay);

    public LearningRateSchedule Schedule => LearningRateSchedule.WarmupCosine(config.Lr, config.MinLr, config.WarmupSteps, Plan.Steps);

    (int[] Prompt, int[] Response) Encode(SftExample e) =>
        (_special.EncodePrompt(tokenizer, e.Prompt), [.. tokenizer.Encode(e.Response), _special.Eos]);

    static int Length((int[] Prompt, int[] Response) x) => x.Prompt.Length + x.Response.Length;

    /// <summary>One optimizer step; returns its metrics.</summary>
    public Dictionary<string, double> Step(optim.Optimizer optimizer, int step)
    {
        var started = System.Diagnostics.Stopwatch.StartNew();
        using var scope = torch.NewDisposeScope();
        var (start, count) = Plan.Batches[step];
        var (first, end) = Shard.Range(count, _world.Rank, _world.Size);
        var encoded = Enumerable.Range(first, end - first).Select(i => Encode(task.SftExample(start + i))).ToList();
        var prompts = encoded.Select(e => e.Prompt).ToList();

        var lr = Schedule.At(step);
        foreach (var g in optimizer.ParamGroups) g.LearningRate = lr;
        model.train();
        model.ActivationCheckpointing = config.ActivationCheckpointing;
        optimizer.zero_grad();
        var (loss, nTokens) = _world.Size == 1 ? Loss(encoded) : ShardLoss(encoded);
        _world.AllReduceGradients(model.parameters());
        var gradNorm = nn.utils.clip_grad_norm_(model.parameters(), config.GradClip);
        optimizer.step();
        var promptTokens = _world.Sum(prompts.Sum(p => p.Length))[0];
        return new Dictionary<string, double>
        {
            ["sft/loss"] = loss,
            ["sft/grad_norm"] = gradNorm,
            ["charts/lr"] = lr,
            ["sft/batch_sequences"] = count,
            ["perf/tokens_per_s"] = (nTokens + promptTokens) / started.Elapsed.TotalSeconds,
        };
    }

    /// <summary>The batch's token-mean NLL, backpropagated; returns it and the response tokens.</summary>
    (double Loss, double Tokens) Loss(List<(int[] Prompt, int[] Response)> encoded)
    {
        var batch = SequenceBatch.Create(encoded.Select(e => e.Prompt).ToList(), encoded.Select(e => e.Response).ToList(), _special.Pad, model.Device);
        var (logProbs, _) = SequenceScorer.Score(model, batch.InputIds);
        var tokens = batch.ResponseMask.sum();
        var loss = Terms.nllTokenMean(batch.ResponseMask, logProbs);
        loss.backward();
        return (loss.item<float>(), tokens.item<float>());
    }

    /// <summary>This rank's part of the token-mean NLL: its masked NLL sum over the whole batch's token count (summed
    /// over ranks, the one-process loss), backpropagated; returns the whole loss and token count.</summary>
    (double Loss, double Tokens) ShardLoss(List<(int[] Prompt, int[] Response)> encoded)
    {
        var counts = _world.Sum(encoded.Sum(e => (double)e.Response.Length), encoded.Count);
        var tokens = counts[0];
        double local = 0;
        if (encoded.Count > 0)
        {
            var batch = SequenceBatch.Create(encoded.Select(e => e.Prompt).ToList(), encoded.Select(e => e.Response).ToList(), _special.Pad, model.Device);
            var (logProbs, _) = SequenceScorer.Score(model, batch.InputIds);
            var whole = new Normaliser(torch.tensor((float)tokens), torch.tensor((float)counts[1]));
            var loss = AggregationModule.apply(Aggregation.TokenMean, whole, batch.ResponseMask, Terms.nll(logProbs));
            loss.backward();
            local = loss.item<float>();
        }
        return (_world.Sum(local)[0], tokens);
    }

    /// <summary>Response NLL (token-mean, as the training loss) on held-out examples, without gradients.</summary>
    public double ValidationLoss(IReadOnlyList<SftExample> examples)
    {
        if (examples.Count == 0) throw new ArgumentException("no validation examples", nameof(examples));
        model.eval();
        using var nll = new MetricAccumulator();
        foreach (var chunk in _world.Mine(examples.ToArray()).Chunk(config.BatchSize))
        {
            using var scope = torch.NewDisposeScope();
            using var _ = torch.no_grad();
            var encoded = chunk.Select(Encode).ToList();
            var batch = SequenceBatch.Create(encoded.Select(e => e.Prompt).ToList(), encoded.Select(e => e.Response).ToList(), _special.Pad, model.Device);
            var (logProbs, _) = SequenceScorer.Score(model, batch.InputIds);
            nll.Add(new Dictionary<string, Metric> { ["nll"] = Metric.TokenMean(batch.ResponseMask, Terms.nll(logProbs)) });
        }
        nll.AllReduce(_world);
        return nll.Read()["nll"];
    }
}
