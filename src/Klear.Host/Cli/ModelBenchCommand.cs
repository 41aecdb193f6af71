using System.CommandLine;
using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using Klear.Host.Model;
using Klear.Host.Rollout;
using Klear.Host.Training;
using TorchSharp;
using static TorchSharp.torch;

namespace Klear.Host.Cli;

/// <summary>
/// <c>model bench</c>: training tokens/s (forward, backward, AdamW), generation tokens/s with and without the KV cache,
/// each also as a share of the measured fp32 matmul peak; then the same figures from <c>bench/model_bench.py</c>
/// (the identical architecture in PyTorch) when Debian's python3-torch is importable, and the Klear/PyTorch ratios.
/// Both sides run with the same thread count (<c>--threads</c>, libtorch's pool here; torch and OpenBLAS there) and do
/// the same generation work (log-probs, host copies, in-place cache). <c>--profile</c> splits a cached decode step
/// into model forward, sampling and bookkeeping instead.
/// </summary>
public sealed class ModelBenchCommand : KlearCommand
{
    const string Python = "/usr/bin/python3";

    static readonly ModelBenchPreset Default = ModelBenchPreset.Bench;
    readonly Option<string> _preset = CliOption.Choice("--preset", "sizes: bench (4 × 256) or quickstart (the quickstart's model and batch); the size options below override it",
        Default.Name, ModelBenchPreset.All.Select(p => p.Name).ToArray());
    readonly Option<int> _layers = CliOption.Int("--layers", "decoder layers", Default.Config.NumHiddenLayers);
    readonly Option<int> _hidden = CliOption.Int("--hidden", "hidden size", Default.Config.HiddenSize);
    readonly Option<int> _heads = CliOption.Int("--heads", "attention heads", Default.Config.NumAttentionHeads);
    readonly Option<int> _kvHeads = CliOption.Int("--kv-heads", "key/value heads (GQA)", Default.Config.NumKeyValueHeads);
    readonly Option<int> _headDim = CliOption.Int("--head-dim", "dimension per head", Default.Config.HeadDim);
    readonly Option<int> _intermediate = CliOption.Int("--intermediate", "MLP intermediate size", Default.Config.IntermediateSize);
    readonly Option<int> _vocab = CliOption.Int("--vocab", "vocabulary size", Default.Config.VocabSize);
    readonly Option<int> _batch = CliOption.Int("--batch", "sequences per batch", Default.Batch);
    readonly Option<int> _seq = CliOption.Int("--seq", "training sequence length", Default.Seq);
    readonly Option<int> _prompt = CliOption.Int("--prompt-tokens", "prompt length for generation", Default.Prompt);
    readonly Option<int> _newTokens = CliOption.Int("--new-tokens", "tokens generated with the KV cache", Default.NewTokens);
    readonly Option<int> _noCacheTokens = CliOption.Int("--no-cache-tokens", "tokens generated without the cache", Default.NoCacheTokens);
    readonly Option<int> _steps = CliOption.Int("--train-steps", "timed training steps (the median counts)", 5);
    // Explicit, because the two sides default differently (libtorch: one per core; the peer used to pin torch to 1).
    readonly Option<int> _threads = CliOption.Int("--threads", "threads on both sides (libtorch here; torch and OpenBLAS in the peer)", Environment.ProcessorCount);
    readonly Option<string> _parts = CliOption.Text("--parts", "comma-separated parts to run: train, gen, nocache, stop", string.Join(',', AllParts));
    readonly Option<bool> _profile = CliOption.Flag("--profile", "split a cached decode step into forward, sampling and host copies instead");
    readonly Option<bool> _noPyTorch = CliOption.Flag("--no-pytorch", "skip the PyTorch peer");
    readonly Option<bool> _json = CliOption.Flag("--json", "Klear only: print its figures as one JSON object (what --suite reads from each child)");
    readonly Option<bool> _suite = CliOption.Flag("--suite", "the speed goals' whole matrix: both presets, each side's thread settings, in child processes, alternating order");
    readonly Option<int> _rounds = CliOption.Int("--rounds", "--suite: rounds per case; each side's best counts, and the order alternates", 2);
    readonly Option<string> _script = CliOption.Text("--pytorch-script", "the peer script [default: bench/model_bench.py found above the working or binary directory]");

    public ModelBenchCommand() : base("model bench", "benchmark training and generation throughput against a PyTorch peer")
    {
        foreach (var option in new Option[] { _preset, _layers, _hidden, _heads, _kvHeads, _headDim, _intermediate, _vocab, _batch, _seq, _prompt,
                     _newTokens, _noCacheTokens, _steps, _threads, _parts, _profile, _noPyTorch, _json, _suite, _rounds, _script })
            Add(option);
    }

    static readonly string[] AllParts = ["train", "gen", "nocache", "stop"];

    /// <summary>The preset's value unless the option was given.</summary>
    static int Pick(ParseResult parsed, Option<int> option, int preset) => parsed.GetResult(option) is { Implicit: false } ? parsed.GetValue(option) : preset;

    protected override int Run(ParseResult parsed)
    {
        var preset = ModelBenchPreset.Find(parsed.GetRequiredValue(_preset))!;
        var p = preset.Config;
        var config = p with
        {
            NumHiddenLayers = Pick(parsed, _layers, p.NumHiddenLayers), HiddenSize = Pick(parsed, _hidden, p.HiddenSize),
            NumAttentionHeads = Pick(parsed, _heads, p.NumAttentionHeads), NumKeyValueHeads = Pick(parsed, _kvHeads, p.NumKeyValueHeads),
            HeadDimOverride = Pick(parsed, _headDim, p.HeadDim), IntermediateSize = Pick(parsed, _intermediate, p.IntermediateSize),
            VocabSize = Pick(parsed, _vocab, p.VocabSize), MaxPositionEmbeddings = 4096,
        };
        int batch = Pick(parsed, _batch, preset.Batch), seq = Pick(parsed, _seq, preset.Seq), prompt = Pick(parsed, _prompt, preset.Prompt);
        int newTokens = Pick(parsed, _newTokens, preset.NewTokens), noCacheTokens = Pick(parsed, _noCacheTokens, preset.NoCacheTokens);
        int steps = parsed.GetValue(_steps);
        int threads = parsed.GetValue(_threads);
        var parts = parsed.GetRequiredValue(_parts).Split(',', StringSplitOptions.TrimEntries).ToHashSet();
        bool profile = parsed.GetValue(_profile);
        bool skipPyTorch = parsed.GetValue(_noPyTorch);
        var script = parsed.GetValue(_script) ?? PyTorchPeer.FindScript();
        try { config.Validate(); }
        catch (ArgumentException e) { throw new UsageException(e.Message); }
        if (batch <= 0 || seq <= 0 || prompt <= 0 || newTokens <= 0 || noCacheTokens <= 0 || steps <= 0 || threads <= 0)
            throw new UsageException("--batch, --seq, --prompt-tokens, --new-tokens, --no-cache-tokens, --train-steps and --threads must be positive");
        if (parts.Except(AllParts).FirstOrDefault() is { } unknown)
            throw new UsageException($"--parts: unknown part '{unknown}' (valid: {string.Join(", ", AllParts)})");
        if (parsed.GetValue(_suite))
        {
            if (parsed.GetValue(_rounds) < 1) throw new UsageException("--rounds must be at least 1");
            return new ModelBenchSuite(script, Python, steps, parsed.GetValue(_rounds)).Run();
        }
        torch.set_num_threads(threads);
        if (parsed.GetValue(_json))
        {
            Console.WriteLine(Measure(config, batch, seq, prompt, newTokens, noCacheTokens, steps, parts, quiet: true).ToJson());
            return 0;
        }
        // Spinning OpenMP threads (the default) are fastest on an idle machine and collapse on a busy one; PASSIVE is the
        // reverse. Measured here: 4.7k vs 2.4k tokens/s idle-ish, 0.46k vs 2.5k under a load of 6-8 on 2 cores.
        var waitPolicy = Environment.GetEnvironmentVariable("OMP_WAIT_POLICY") is { Length: > 0 } policy ? policy : "default";

        Console.WriteLine($"load average before: {LoadAverage()} on {Environment.ProcessorCount} cores (figures from a busy machine are not comparable)");
        Console.WriteLine($"model: {config.NumHiddenLayers} layers, hidden {config.HiddenSize}, {config.NumAttentionHeads} heads / {config.NumKeyValueHeads} KV heads × {config.HeadDim}, " +
                          $"MLP {config.IntermediateSize}, vocab {config.VocabSize}{(config.TieWordEmbeddings ? ", tied head" : "")}; libtorch threads {torch.get_num_threads()}, OMP_WAIT_POLICY {waitPolicy}");
        if (profile)
        {
            ProfileDecode(config, batch, prompt, newTokens);
            return 0;
        }
        var klear = Measure(config, batch, seq, prompt, newTokens, noCacheTokens, steps, parts);
        Print("Klear (TorchSharp)", klear, config, batch, seq, prompt, newTokens, noCacheTokens);
        if (klear.GenTokensPerS is { } cached && klear.GenNoCacheTokensPerS is { } recomputed)
            Console.WriteLine($"  KV cache speed-up over recomputation: {cached / recomputed:F1}x");

        if (skipPyTorch) return 0;
        var peer = PyTorchPeer.Run(script, Python, config, batch, seq, prompt, newTokens, noCacheTokens, steps, threads, threads, parts);
        if (peer is null) return 0;
        Print("PyTorch", peer, config, batch, seq, prompt, newTokens, noCacheTokens);
        if (UnoptimisedBlas(peer) is { } warning)
        {
            Console.WriteLine(warning);
            return 0;
        }
        static string Ratio(double? a, double? b) => a is { } x && b is { } y ? $"{x / y:F2}" : "-";
        Console.WriteLine($"ratios Klear/PyTorch: training {Ratio(klear.TrainTokensPerS, peer.TrainTokensPerS)}, generation {Ratio(klear.GenTokensPerS, peer.GenTokensPerS)}, " +
                          $"per CPU-second: training {Ratio(klear.TrainTokensPerCpuS, peer.TrainTokensPerCpuS)}, generation {Ratio(klear.GenTokensPerCpuS, peer.GenTokensPerCpuS)}, " +
                          $"generation without cache {Ratio(klear.GenNoCacheTokensPerS, peer.GenNoCacheTokensPerS)}, matmul peak {Ratio(klear.MatmulGflops, peer.MatmulGflops)}; " +
                          $"generation vs the peer's lighter loop {Ratio(klear.GenTokensPerS, peer.GenSimpleTokensPerS)}");
        Console.WriteLine($"load average after: {LoadAverage()}");
        return 0;
    }

    /// <summary>A notice instead of a ratio when the peer is not on an optimised BLAS (Debian's python3-torch without
    /// recommends runs on the reference BLAS, ~14× slower at matmul).</summary>
    internal static string? UnoptimisedBlas(ModelBenchFigures peer) =>
        peer.Blas == "openblas" ? null
            : $"PyTorch runs on BLAS '{peer.Blas}' (matmul peak {peer.MatmulGflops:F1} GFLOP/s), not OpenBLAS: no ratio is printed, it would flatter Klear. " +
              "Install it: apt-get install -y libopenblas0-pthread";

    internal static ModelBenchFigures Measure(Qwen3Config config, int batch, int seq, int prompt, int newTokens, int noCacheTokens, int steps, ISet<string> parts,
        bool quiet = false)
    {
        double matmul = MatmulGflops();
        using var model = new Qwen3ForCausalLM(config).InitializeWeights(0);

        var optimizer = new LeanAdamW(model.parameters(), 1e-4, 0.9, 0.999, 1e-8, 0);
        using var data = torch.randint(0, config.VocabSize, [batch, seq + 1], generator: new torch.Generator(1));
        void TrainStep()
        {
            using var scope = torch.NewDisposeScope();
            var logits = model.forward(new CausalLMInput(data.narrow(1, 0, seq)));                      // [B, T, V]
            var loss = nn.functional.cross_entropy(logits.view(-1, config.VocabSize), data.narrow(1, 1, seq).reshape(-1));
            optimizer.zero_grad();
            loss.backward();
            optimizer.step();
        }
        model.train();
        double? train = null, trainCpu = null;
        if (parts.Contains("train"))
        {
            TrainStep();
            // The median step, because the machine is shared: one step slowed by a neighbour should not set the figure.
            var stepSeconds = new List<double>();
            var stepCpuSeconds = new List<double>();
            for (int i = 0; i < steps; i++)
            {
                var cpu = Process.GetCurrentProcess().TotalProcessorTime;
                var watch = Stopwatch.StartNew();
                TrainStep();
                stepSeconds.Add(watch.Elapsed.TotalSeconds);
                stepCpuSeconds.Add((Process.GetCurrentProcess().TotalProcessorTime - cpu).TotalSeconds);
            }
            train = (double)batch * seq / stepSeconds.Order().ElementAt(steps / 2);
            trainCpu = (double)batch * seq / stepCpuSeconds.Order().ElementAt(steps / 2);
        }

        model.eval();
        var random = new Random(2);
        var prompts = Enumerable.Range(0, batch).Select(_ => Enumerable.Range(0, prompt).Select(_ => random.Next(config.VocabSize)).ToArray()).ToList();
        var sampler = new Sampler(model);
        (double PerS, double PerCpuS) Generate(int tokens, bool cache)
        {
            var options = new SamplingOptions { Temperature = 1.0, MaxNewTokens = tokens, Seed = 3 };
            var cpu = Process.GetCurrentProcess().TotalProcessorTime;
            var w = Stopwatch.StartNew();
            var result = sampler.Generate(prompts, options, useKvCache: cache);
            double n = result.Tokens.Sum(t => t.Length);
            return (n / w.Elapsed.TotalSeconds, n / (Process.GetCurrentProcess().TotalProcessorTime - cpu).TotalSeconds);
        }
        // Warm-up at full length: .NET's tiered JIT recompiles the hot paths after their first ~30 calls, which would
        // otherwise land in (and on a 2-core machine compete with) the measured run; Python has no such phase.
        Generate(newTokens, true);
        if (parts.Contains("stop") && !quiet) MeasureDropFinished(sampler, prompts, newTokens);
        (double PerS, double PerCpuS)? gen = null;
        if (parts.Contains("gen"))
        {
            // The median of three runs, wall and CPU separately, as the peer does.
            var runs = Enumerable.Range(0, 3).Select(_ => Generate(newTokens, true)).ToList();
            gen = (runs.Select(r => r.PerS).Order().ElementAt(1), runs.Select(r => r.PerCpuS).Order().ElementAt(1));
        }
        return new ModelBenchFigures(matmul, train, gen?.PerS, parts.Contains("nocache") ? Generate(noCacheTokens, false).PerS : null, gen?.PerCpuS,
            TrainTokensPerCpuS: trainCpu, PeakRssBytes: ModelBenchFigures.OwnPeakRss(), Blas: $"mkl (libtorch), {MklDispatch.Kernels} kernels");
    }

    /// <summary>
    /// Klear only (the peer keeps every row): with stop tokens, rows finish at different steps; tokens/s with finished
    /// rows dropped from the batch and kept in it, which must give identical responses. At temperature 1 the untrained
    /// model is near uniform, so 4 stop ids of 512 end a row with probability 1/128 per step.
    /// </summary>
    static void MeasureDropFinished(Sampler sampler, List<int[]> prompts, int newTokens)
    {
        var options = new SamplingOptions { Temperature = 1.0, MaxNewTokens = newTokens, Seed = 3, StopTokenIds = [0, 1, 2, 3] };
        (double PerS, GenerationResult Result) Run(bool drop)
        {
            var w = Stopwatch.StartNew();
            var result = sampler.Generate(prompts, options, dropFinished: drop);
            return (result.Tokens.Sum(t => t.Length) / w.Elapsed.TotalSeconds, result);
        }
        var kept = Run(false);
        var dropped = Run(true);
        bool same = kept.Result.Tokens.Zip(dropped.Result.Tokens).All(x => x.First.SequenceEqual(x.Second));
        Console.WriteLine($"Klear generation with stop tokens ({dropped.Result.Finished.Count(f => f)} of {prompts.Count} rows finished, {dropped.Result.Tokens.Sum(t => t.Length)} tokens): " +
                          $"finished rows dropped {dropped.PerS:F0} tokens/s, kept {kept.PerS:F0} tokens/s ({dropped.PerS / kept.PerS:F2}x); identical responses: {same}");
    }

    /// <summary>
    /// Where a cached decode step's time goes: the loop of <see cref="Sampler.Generate"/> (equal-length prompts, so no
    /// mask) with a stopwatch around the model forward, the sampling, and the host copies; tensors created per step
    /// from TorchSharp's scope statistics. Three repeats, because the first pays for warm-up and neighbours vary.
    /// </summary>
    static void ProfileDecode(Qwen3Config config, int batch, int prompt, int newTokens)
    {
        using var model = new Qwen3ForCausalLM(config).InitializeWeights(0);
        model.eval();
        var options = new SamplingOptions { Temperature = 1.0, MaxNewTokens = newTokens };
        int total = prompt + newTokens, decodeSteps = newTokens - 1;
        if (decodeSteps <= 0) throw new UsageException("--profile needs --new-tokens of at least 2");
        for (int repeat = 0; repeat < 3; repeat++)
        {
            using var noGrad = torch.no_grad();
            using var scope = torch.NewDisposeScope();
            var ids = torch.randint(0, config.VocabSize, [batch, total], generator: new torch.Generator(1)); // [B, P + N]
            var uniforms = torch.rand([batch, newTokens], generator: new torch.Generator(2));               // [B, N]
            using var cache = new KvCache(config.NumHiddenLayers, batch, config.NumKeyValueHeads, config.HeadDim, total);
            double forward = 0, sampling = 0, host = 0;
            long created = DisposeScopeManager.Statistics.CreatedInScopeCount;
            var all = Stopwatch.StartNew();
            for (int step = 0; step < newTokens; step++)
            {
                using var stepScope = torch.NewDisposeScope();
                int length = prompt + step;
                var watch = Stopwatch.StartNew();
                var input = step == 0 ? ids.narrow(1, 0, length) : ids.narrow(1, length - 1, 1);
                var logits = model.Logits(model.Hidden(new CausalLMInput(input, Cache: cache)).select(1, -1)); // [B, V]
                double t1 = watch.Elapsed.TotalMilliseconds;
                var (next, logProbs) = Sampler.SampleNext(logits, options, uniforms.select(1, step));
                double t2 = watch.Elapsed.TotalMilliseconds;
                ids.select(1, length).copy_(next);
                _ = next.data<long>().ToArray();
                _ = logProbs.data<float>().ToArray();
                double t3 = watch.Elapsed.TotalMilliseconds;
                if (step == 0) continue;                                                 // the prefill is not a decode step
                forward += t1;
                sampling += t2 - t1;
                host += t3 - t2;
            }
            double ms = all.Elapsed.TotalMilliseconds;
            double perStep = (DisposeScopeManager.Statistics.CreatedInScopeCount - created) / (double)newTokens;
            Console.WriteLine($"profile {repeat + 1}: {batch * newTokens / ms * 1000:F0} tokens/s; per decode step: forward {forward / decodeSteps:F3} ms, " +
                              $"sampling {sampling / decodeSteps:F3} ms, token copy to host {host / decodeSteps:F3} ms; {perStep:F0} tensors created per step; load {LoadAverage()}");
        }
    }

    internal static string LoadAverage() =>
        File.Exists("/proc/loadavg") ? string.Join(' ', File.ReadAllText("/proc/loadavg").Split(' ').Take(3)) : "unknown";

    static double MatmulGflops()
    {
        using var scope = torch.NewDisposeScope();
        var a = torch.randn(1024, 1024);
        var b = torch.randn(1024, 1024);
        torch.mm(a, b);
        // A peak is the best single product: on a shared machine the mean mostly measures the neighbours.
        double best = double.MaxValue;
        for (int i = 0; i < 20; i++)
        {
            var watch = Stopwatch.StartNew();
            torch.mm(a, b).Dispose();
            best = Math.Min(best, watch.Elapsed.TotalSeconds);
        }
        return 2.0 * Math.Pow(1024, 3) / best / 1e9;
    }

    /// <summary>
    /// FLOPs per token. Training: 6N + 12·L·H·D·T (PaLM, Appendix B), N = matmul parameters (head included, embedding
    /// lookup not). Generation: 2N + 4·L·H·D·ctx per new token, ctx the mean attended length; without the cache every
    /// step reprocesses the whole sequence, so its useful work is counted the same way (the recomputation is waste).
    /// </summary>
    static (double Train, double Gen) FlopsPerToken(Qwen3Config c, int seq, int prompt, int newTokens)
    {
        double h = c.NumAttentionHeads, kv = c.NumKeyValueHeads, d = c.HeadDim, hid = c.HiddenSize;
        double perLayer = hid * h * d * 2 + hid * kv * d * 2 + 3 * hid * c.IntermediateSize;
        double n = c.NumHiddenLayers * perLayer + hid * c.VocabSize;
        double attention = c.NumHiddenLayers * h * d;
        return (6 * n + 12 * attention * seq, 2 * n + 4 * attention * (prompt + newTokens / 2.0));
    }

    static void Print(string who, ModelBenchFigures f, Qwen3Config c, int batch, int seq, int prompt, int newTokens, int noCacheTokens)
    {
        var (trainFlops, genFlops) = FlopsPerToken(c, seq, prompt, newTokens);
        var (_, noCacheFlops) = FlopsPerToken(c, seq, prompt, noCacheTokens);
        string Share(double tokensPerS, double flops) => $"{tokensPerS * flops / 1e9:F1} GFLOP/s = {100 * tokensPerS * flops / 1e9 / f.MatmulGflops:F0}% of peak";
        Console.WriteLine($"{who}: fp32 1024² matmul peak (best of 20) {f.MatmulGflops:F1} GFLOP/s");
        if (f.TrainTokensPerS is { } train)
            Console.WriteLine($"  training (batch {batch} × {seq}, fwd+bwd+AdamW, median step): {train:F0} tokens/s, {Share(train, trainFlops)}; " +
                              $"{f.TrainTokensPerCpuS:F0} tokens per CPU-second");
        if (f.GenTokensPerS is { } gen)
            Console.WriteLine($"  generation with KV cache (batch {batch}, prompt {prompt}, {newTokens} new): {gen:F0} tokens/s, {Share(gen, genFlops)}; " +
                              $"{f.GenTokensPerCpuS:F0} tokens per CPU-second");
        if (f.GenSimpleTokensPerS is { } simple)
            Console.WriteLine($"  generation with the lighter loop (multinomial, no log-probs, concatenating cache): {simple:F0} tokens/s");
        if (f.GenNoCacheTokensPerS is { } noCache)
            Console.WriteLine($"  generation without cache ({noCacheTokens} new): {noCache:F0} tokens/s, useful work {Share(noCache, noCacheFlops)}");
    }

}
