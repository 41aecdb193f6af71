using System.Diagnostics;
using System.Text.Json.Nodes;
using Klear.Host.Configuration;
using Klear.Host.Model;
using Klear.Host.Rewards;
using Klear.Host.Rollout;
using Klear.Host.Tokenization;
using Klear.Host.Training;
using TorchSharp;

namespace Klear.Host.Cli;

/// <summary>
/// One phase of <c>model memory</c>, run in a process of its own so its peak resident set is its alone: load the
/// model, then (after resetting the kernel's peak counter) generate or take one RL update exactly as training does
/// (<see cref="Sampler"/>, <see cref="RlTrainer.Update"/> with AdamW), and report the peak RSS, the RSS the phase
/// started from and its seconds as one JSON line.
/// </summary>
internal static class MemoryProbe
{
    public const string Marker = "memory-phase: ";

    public sealed record Plan(string ModelDir, string Phase, int Batch, int PromptTokens, int ResponseTokens, int Threads,
        bool Checkpointing, string Dtype, int MicroBatches);

    public static JsonObject Run(Plan plan)
    {
        torch.set_num_threads(plan.Threads);
        var clock = Stopwatch.StartNew();
        using var model = PolicyFactory.Load(plan.ModelDir, new ModelConfig());
        double loadSeconds = clock.Elapsed.TotalSeconds;
        var result = new JsonObject
        {
            ["phase"] = plan.Phase, ["load_seconds"] = Math.Round(loadSeconds, 1), ["load_peak_bytes"] = PeakRss(),
            ["start_bytes"] = CurrentRss(),
        };
        ResetPeak();
        var random = new Random(1);
        var prompts = Enumerable.Range(0, plan.Batch)
            .Select(_ => Enumerable.Range(0, plan.PromptTokens).Select(_ => random.Next(model.Config.VocabSize)).ToArray()).ToList();
        clock.Restart();
        switch (plan.Phase)
        {
            case "load":
                break;
            case "generate":
                var dtype = GenerationPrecision.Parse("--dtype", plan.Dtype);
                using (var copy = GenerationPrecision.CopyFor(model, dtype))
                {
                    // No stop tokens: every row runs the full length, so the KV cache reaches its size.
                    var options = new SamplingOptions { Temperature = 1.0, MaxNewTokens = plan.ResponseTokens, Seed = 2 };
                    var generated = new Sampler(copy ?? model).Generate(prompts, options);
                    result["tokens"] = generated.Tokens.Sum(t => t.Length);
                }
                break;
            case "update":
                Update(model, prompts, plan, random);
                break;
            default:
                throw new UsageException($"--phase: unknown phase '{plan.Phase}'");
        }
        result["seconds"] = Math.Round(clock.Elapsed.TotalSeconds, 1);
        result["peak_bytes"] = PeakRss();
        return result;
    }

    /// <summary>One RL update of the trainer on rollouts of the planned size: old log-probs, one mini-batch, AdamW.</summary>
    static void Update(Qwen3ForCausalLM model, List<int[]> prompts, Plan plan, Random random)
    {
        var config = ConfigBinder.Bind<RunConfig>(null, [
            "actor.mini_batches=1", $"actor.micro_batches={plan.MicroBatches}", $"actor.activation_checkpointing={plan.Checkpointing.ToString().ToLowerInvariant()}",
            $"threads={plan.Threads}", $"rollout.n={plan.Batch}", "data.task=files",
        ]);
        ITokenizer tokenizer = File.Exists(Path.Combine(plan.ModelDir, HfTokenizer.FileName))
            ? HfTokenizer.Load(plan.ModelDir) : CharTokenizer.Arithmetic();
        var trainer = new RlTrainer(model, null, tokenizer, new FileTrainingTask(0, config.Data), new RewardRegistry(), config);
        using var optimizer = trainer.CreateOptimizer();
        int b = prompts.Count;
        var responses = Enumerable.Range(0, b)
            .Select(_ => Enumerable.Range(0, plan.ResponseTokens).Select(_ => random.Next(model.Config.VocabSize)).ToArray()).ToArray();
        // One group; alternating advantages so every token carries a gradient.
        var advantages = Enumerable.Range(0, b).Select(i => i % 2 == 0 ? 1.0 : -1.0).ToArray();
        var rollouts = new RlTrainer.Rollouts([.. prompts], responses, new double[b], new bool[b], Enumerable.Repeat(true, b).ToArray(), 1, 1, advantages)
        {
            AllScores = new double[b], AllCorrect = new bool[b], AllLengths = responses.Select(r => r.Length).ToArray(),
            AllFinished = Enumerable.Repeat(true, b).ToArray(),
        };
        var metrics = trainer.Update(optimizer, 0, rollouts);
        if (!double.IsFinite(metrics["actor/grad_norm"])) throw new InvalidOperationException("the measured update had a non-finite gradient");
    }

    static long StatusBytes(string field)
    {
        foreach (var line in File.ReadLines("/proc/self/status"))
            if (line.StartsWith(field + ":", StringComparison.Ordinal))
                return long.Parse(line[(field.Length + 1)..].Trim().Split(' ')[0]) * 1024;
        throw new InvalidOperationException($"/proc/self/status has no {field}");
    }

    static long PeakRss() => StatusBytes("VmHWM");
    static long CurrentRss() => StatusBytes("VmRSS");

    /// <summary>Writing 5 to clear_refs resets VmHWM to the current RSS (Linux 4.0+), so the next peak is the phase's.</summary>
    static void ResetPeak() => File.WriteAllText("/proc/self/clear_refs", "5");
}
