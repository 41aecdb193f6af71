using Klear.Host.Metrics;
using Klear.Host.Model;
using Klear.Host.Rollout;
using Klear.Host.Tokenization;
using TorchSharp;
using static TorchSharp.torch;

namespace Klear.Host.Training;

/// <summary>
/// Long-CoT SFT: response-only NLL (token-mean over the batch's response tokens), AdamW, warm-up then cosine decay
/// from a peak to a floor learning rate, gradient clipping. Step k trains on examples k·B … k·B + B - 1 of the task.
/// </summary>
public sealed class SftTrainer(Qwen3ForCausalLM model, ITokenizer tokenizer, ITrainingTask task, SftConfig config)
{
    readonly SpecialTokens _special = SpecialTokens.From(tokenizer);

    public TorchSharp.Modules.OptimizerHelper CreateOptimizer() =>
        optim.AdamW(model.parameters(), config.Lr, config.Beta1, config.Beta2, 1e-8, config.WeightDecay);

    public LearningRateSchedule Schedule => LearningRateSchedule.WarmupCosine(config.Lr, config.MinLr, config.WarmupSteps, config.Steps);

    /// <summary>One optimizer step; returns its metrics.</summary>
    public Dictionary<string, double> Step(optim.Optimizer optimizer, int step)
    {
        var started = System.Diagnostics.Stopwatch.StartNew();
        using var scope = torch.NewDisposeScope();
        var examples = Enumerable.Range(0, config.BatchSize).Select(i => task.SftExample((long)step * config.BatchSize + i)).ToList();
        var prompts = examples.Select(e => _special.EncodePrompt(tokenizer, e.Prompt)).ToList();
        var responses = examples.Select(e => (int[])[.. tokenizer.Encode(e.Response), _special.Eos]).ToList();
        var batch = SequenceBatch.Create(prompts, responses, _special.Pad);

        var lr = Schedule.At(step);
        foreach (var g in optimizer.ParamGroups) g.LearningRate = lr;
        model.train();
        var (logProbs, _) = SequenceScorer.Score(model, batch.InputIds);
        var tokens = batch.ResponseMask.sum();
        var loss = -(logProbs * batch.ResponseMask).sum() / tokens;
        optimizer.zero_grad();
        loss.backward();
        var gradNorm = nn.utils.clip_grad_norm_(model.parameters(), config.GradClip);
        optimizer.step();
        var nTokens = tokens.item<float>();
        return new Dictionary<string, double>
        {
            ["sft/loss"] = loss.item<float>(),
            ["sft/grad_norm"] = gradNorm,
            ["charts/lr"] = lr,
            ["perf/tokens_per_s"] = (nTokens + prompts.Sum(p => p.Length)) / started.Elapsed.TotalSeconds,
        };
    }
}
