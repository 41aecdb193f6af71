using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using Klear.Host.Model;
using Klear.Host.Rollout;
using TorchSharp;
using static TorchSharp.torch;

namespace Klear.Host.Cli;

/// <summary>
/// <c>model bench</c>: training tokens/s (forward, backward, AdamW), generation tokens/s with and without the KV cache,
/// each also as a share of the measured fp32 matmul peak; then the same figures from <c>bench/model_bench.py</c>
/// (the identical architecture in PyTorch) when Debian's python3-torch is importable, and the Klear/PyTorch ratios.
/// </summary>
public sealed class ModelBenchCommand : ICommand
{
    const string Python = "/usr/bin/python3";

    public string Name => "model bench";
    public string Summary => "benchmark training and generation throughput against a PyTorch peer";

    sealed record Figures(double MatmulGflops, double TrainTokensPerS, double GenTokensPerS, double GenNoCacheTokensPerS);

    public int Run(CliArgs args)
    {
        var config = new Qwen3Config
        {
            NumHiddenLayers = args.Int("layers", 4), HiddenSize = args.Int("hidden", 256), NumAttentionHeads = args.Int("heads", 4),
            NumKeyValueHeads = args.Int("kv-heads", 2), HeadDimOverride = args.Int("head-dim", 64), IntermediateSize = args.Int("intermediate", 1024),
            VocabSize = args.Int("vocab", 512), MaxPositionEmbeddings = 4096, RopeTheta = 10_000,
        };
        int batch = args.Int("batch", 16), seq = args.Int("seq", 256), prompt = args.Int("prompt-tokens", 16);
        int newTokens = args.Int("new-tokens", 256), noCacheTokens = args.Int("no-cache-tokens", 256), steps = args.Int("train-steps", 5);
        int threads = args.Int("threads", 0);
        bool skipPyTorch = args.Flag("no-pytorch");
        var script = args.String("pytorch-script") ?? FindScript();
        args.RejectUnknown();
        try { config.Validate(); }
        catch (ArgumentException e) { throw new UsageException(e.Message); }
        if (batch <= 0 || seq <= 0 || prompt <= 0 || newTokens <= 0 || noCacheTokens <= 0 || steps <= 0)
            throw new UsageException("--batch, --seq, --prompt-tokens, --new-tokens, --no-cache-tokens and --train-steps must be positive");
        // Spinning OpenMP threads (the default) are fastest on an idle machine and collapse on a busy one; PASSIVE is the
        // reverse. Measured here: 4.7k vs 2.4k tokens/s idle-ish, 0.46k vs 2.5k under a load of 6-8 on 2 cores.
        var waitPolicy = Environment.GetEnvironmentVariable("OMP_WAIT_POLICY") is { Length: > 0 } policy ? policy : "default";
        if (threads > 0) torch.set_num_threads(threads);

        Console.WriteLine($"load average before: {LoadAverage()} on {Environment.ProcessorCount} cores (figures from a busy machine are not comparable)");
        Console.WriteLine($"model: {config.NumHiddenLayers} layers, hidden {config.HiddenSize}, {config.NumAttentionHeads} heads / {config.NumKeyValueHeads} KV heads × {config.HeadDim}, " +
                          $"MLP {config.IntermediateSize}, vocab {config.VocabSize}; libtorch threads {torch.get_num_threads()}, OMP_WAIT_POLICY {waitPolicy}");
        var klear = Measure(config, batch, seq, prompt, newTokens, noCacheTokens, steps);
        Print("Klear (TorchSharp)", klear, config, batch, seq, prompt, newTokens, noCacheTokens);
        Console.WriteLine($"  KV cache speed-up over recomputation: {klear.GenTokensPerS / klear.GenNoCacheTokensPerS:F1}x");

        if (skipPyTorch) return 0;
        var peer = RunPyTorch(script, config, batch, seq, prompt, newTokens, noCacheTokens, steps);
        if (peer is null) return 0;
        Print("PyTorch", peer, config, batch, seq, prompt, newTokens, noCacheTokens);
        Console.WriteLine($"ratios Klear/PyTorch: training {klear.TrainTokensPerS / peer.TrainTokensPerS:F2}, generation {klear.GenTokensPerS / peer.GenTokensPerS:F2}, " +
                          $"generation without cache {klear.GenNoCacheTokensPerS / peer.GenNoCacheTokensPerS:F2}, matmul peak {klear.MatmulGflops / peer.MatmulGflops:F2}");
        return 0;
    }

    static Figures Measure(Qwen3Config config, int batch, int seq, int prompt, int newTokens, int noCacheTokens, int steps)
    {
        double matmul = MatmulGflops();
        using var model = new Qwen3ForCausalLM(config).InitializeWeights(0);

        var optimizer = torch.optim.AdamW(model.parameters(), lr: 1e-4);
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
        TrainStep();
        // The median step, because the machine is shared: one step slowed by a neighbour should not set the figure.
        var stepSeconds = new List<double>();
        for (int i = 0; i < steps; i++)
        {
            var watch = Stopwatch.StartNew();
            TrainStep();
            stepSeconds.Add(watch.Elapsed.TotalSeconds);
        }
        double train = (double)batch * seq / stepSeconds.Order().ElementAt(steps / 2);

        model.eval();
        var random = new Random(2);
        var prompts = Enumerable.Range(0, batch).Select(_ => Enumerable.Range(0, prompt).Select(_ => random.Next(config.VocabSize)).ToArray()).ToList();
        var sampler = new Sampler(model);
        double Generate(int tokens, bool cache)
        {
            var options = new SamplingOptions { Temperature = 1.0, MaxNewTokens = tokens, Seed = 3 };
            var w = Stopwatch.StartNew();
            var result = sampler.Generate(prompts, options, useKvCache: cache);
            return result.Tokens.Sum(t => t.Length) / w.Elapsed.TotalSeconds;
        }
        Generate(4, true);
        return new Figures(matmul, train, Generate(newTokens, true), Generate(noCacheTokens, false));
    }

    static string LoadAverage() =>
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

    static void Print(string who, Figures f, Qwen3Config c, int batch, int seq, int prompt, int newTokens, int noCacheTokens)
    {
        var (trainFlops, genFlops) = FlopsPerToken(c, seq, prompt, newTokens);
        var (_, noCacheFlops) = FlopsPerToken(c, seq, prompt, noCacheTokens);
        string Share(double tokensPerS, double flops) => $"{tokensPerS * flops / 1e9:F1} GFLOP/s = {100 * tokensPerS * flops / 1e9 / f.MatmulGflops:F0}% of peak";
        Console.WriteLine($"{who}: fp32 1024² matmul peak (best of 20) {f.MatmulGflops:F1} GFLOP/s");
        Console.WriteLine($"  training (batch {batch} × {seq}, fwd+bwd+AdamW, median step): {f.TrainTokensPerS:F0} tokens/s, {Share(f.TrainTokensPerS, trainFlops)}");
        Console.WriteLine($"  generation with KV cache (batch {batch}, prompt {prompt}, {newTokens} new): {f.GenTokensPerS:F0} tokens/s, {Share(f.GenTokensPerS, genFlops)}");
        Console.WriteLine($"  generation without cache ({noCacheTokens} new): {f.GenNoCacheTokensPerS:F0} tokens/s, useful work {Share(f.GenNoCacheTokensPerS, noCacheFlops)}");
    }

    static Figures? RunPyTorch(string? script, Qwen3Config c, int batch, int seq, int prompt, int newTokens, int noCacheTokens, int steps)
    {
        if (script is null || !File.Exists(script))
        {
            Console.WriteLine("PyTorch: bench/model_bench.py not found (pass --pytorch-script PATH); no comparison");
            return null;
        }
        if (!File.Exists(Python) || RunProcess(Python, ["-c", "import torch"]).Code != 0)
        {
            Console.WriteLine($"PyTorch: not importable by {Python}; nothing was installed. For the comparison run: " +
                              "apt-get install -y --no-install-recommends python3-torch libopenblas0-pthread");
            return null;
        }
        string[] arguments =
        [
            script, "--layers", $"{c.NumHiddenLayers}", "--hidden", $"{c.HiddenSize}", "--heads", $"{c.NumAttentionHeads}",
            "--kv-heads", $"{c.NumKeyValueHeads}", "--head-dim", $"{c.HeadDim}", "--intermediate", $"{c.IntermediateSize}",
            "--vocab", $"{c.VocabSize}", "--batch", $"{batch}", "--seq", $"{seq}", "--prompt-tokens", $"{prompt}",
            "--new-tokens", $"{newTokens}", "--no-cache-tokens", $"{noCacheTokens}", "--train-steps", $"{steps}",
        ];
        var (code, output, error) = RunProcess(Python, arguments);
        if (code != 0)
        {
            Console.WriteLine($"PyTorch: {script} failed (exit {code}): {error.Trim()}");
            return null;
        }
        using var json = JsonDocument.Parse(output.Trim().Split('\n')[^1]);
        var r = json.RootElement;
        Console.WriteLine($"PyTorch {r.GetProperty("torch_version").GetString()} ({r.GetProperty("threads").GetInt32()} torch thread(s), OpenBLAS):");
        return new Figures(r.GetProperty("matmul_gflops").GetDouble(), r.GetProperty("train_tokens_per_s").GetDouble(),
            r.GetProperty("gen_tokens_per_s").GetDouble(), r.GetProperty("gen_nocache_tokens_per_s").GetDouble());
    }

    static (int Code, string Output, string Error) RunProcess(string file, IEnumerable<string> arguments)
    {
        var psi = new ProcessStartInfo(file) { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var a in arguments) psi.ArgumentList.Add(a);
        using var p = Process.Start(psi)!;
        var output = p.StandardOutput.ReadToEndAsync();
        var error = p.StandardError.ReadToEnd();
        p.WaitForExit();
        return (p.ExitCode, output.Result, error);
    }

    /// <summary>The script lives in the repository, not the build output: look up from the working and the binary directory.</summary>
    static string? FindScript()
    {
        foreach (var start in new[] { Directory.GetCurrentDirectory(), AppContext.BaseDirectory })
            for (var dir = new DirectoryInfo(start); dir is not null; dir = dir.Parent)
            {
                var candidate = Path.Combine(dir.FullName, "bench", "model_bench.py");
                if (File.Exists(candidate)) return candidate;
            }
        return null;
    }
}
