using System.Reflection;

namespace Klear.Host.Cli;

/// <summary>
/// <c>model bench --suite</c>: the speed goals' matrix in one invocation. Each measurement is a child process (so each
/// peak RSS is its own): Klear through <c>klear model bench --json</c>, PyTorch through its script. Every case runs
/// each side's thread settings for several rounds with the order alternating (Klear first, then PyTorch first), so
/// drift and neighbours fall on both sides; each side's best run counts (a peak, as the matmul figure is), and the
/// ratio of the bests is compared with its goal.
/// </summary>
sealed class ModelBenchSuite(string? script, string python, int steps, int rounds)
{
    /// <summary>One row of the matrix: a preset, the thread settings each side tries, and the goals of the issue
    /// (training and cached generation ratios).</summary>
    sealed record Case(ModelBenchPreset Preset, int[] KlearThreads, (int Torch, int Blas)[] PeerThreads, double TrainGoal, double GenGoal);

    static readonly Case[] Cases =
    [
        new(ModelBenchPreset.Quickstart, [1], [(1, 1)], 1.3, 2.0),
        new(ModelBenchPreset.Bench, [1, 2], [(1, 2), (2, 2)], 1.3, 2.0),
    ];

    static readonly HashSet<string> Parts = ["train", "gen"];

    public int Run()
    {
        var machine = Metrics.MachineInfo.Current(1);
        Console.WriteLine($"model bench --suite: {rounds} round(s) per case, alternating order; load average before: {ModelBenchCommand.LoadAverage()} " +
                          $"on {Environment.ProcessorCount} cores; CPU: {machine.Cpu} ({machine.Isa}), MKL kernels {machine.Mkl}");
        bool allMet = true;
        foreach (var c in Cases) allMet &= RunCase(c);
        Console.WriteLine($"load average after: {ModelBenchCommand.LoadAverage()}; goals {(allMet ? "all met" : "NOT all met")}");
        return 0;
    }

    bool RunCase(Case c)
    {
        var p = c.Preset;
        Console.WriteLine($"== {p.Name}: {p.Config.NumHiddenLayers} × {p.Config.HiddenSize}, heads {p.Config.NumAttentionHeads}/{p.Config.NumKeyValueHeads}, " +
                          $"MLP {p.Config.IntermediateSize}, vocab {p.Config.VocabSize}; training {p.Batch} × {p.Seq}; generation {p.Batch} × ({p.Prompt} + {p.NewTokens})");
        var klear = new List<(string Setting, ModelBenchFigures F)>();
        var peer = new List<(string Setting, ModelBenchFigures F)>();
        for (int round = 0; round < rounds; round++)
        {
            void RunKlear() { foreach (var t in c.KlearThreads) Add(klear, "Klear", $"{t} thread(s)", Klear(p, t)); }
            void RunPeer() { foreach (var (t, b) in c.PeerThreads) Add(peer, "PyTorch", $"{t} torch + {b} OpenBLAS", PyTorchPeer.Run(script, python, p.Config, p.Batch, p.Seq, p.Prompt, p.NewTokens, p.NoCacheTokens, steps, t, b, Parts, quiet: true)); }
            if (round % 2 == 0) { RunKlear(); RunPeer(); } else { RunPeer(); RunKlear(); }
        }
        if (klear.Count == 0 || peer.Count == 0)
        {
            Console.WriteLine("  no comparison (a side produced no figures; see above)");
            return false;
        }
        if (peer.Select(x => ModelBenchCommand.UnoptimisedBlas(x.F)).FirstOrDefault(w => w is not null) is { } warning)
        {
            Console.WriteLine("  " + warning);
            return false;
        }
        bool train = Compare("training tokens/s", klear, peer, f => f.TrainTokensPerS, c.TrainGoal);
        bool gen = Compare("cached generation tokens/s", klear, peer, f => f.GenTokensPerS, c.GenGoal);
        Compare("training tokens per CPU-second", klear, peer, f => f.TrainTokensPerCpuS, null);
        Compare("generation tokens per CPU-second", klear, peer, f => f.GenTokensPerCpuS, null);
        long kRss = klear.Max(x => x.F.PeakRssBytes ?? 0), pRss = peer.Max(x => x.F.PeakRssBytes ?? 0);
        bool rss = kRss <= pRss;
        Console.WriteLine($"  peak RSS (largest run): Klear {kRss / 1048576.0:F0} MiB, PyTorch {pRss / 1048576.0:F0} MiB — goal Klear ≤ PyTorch: {(rss ? "met" : "NOT met")}");
        return train && gen && rss;
    }

    static void Add(List<(string, ModelBenchFigures)> runs, string side, string setting, ModelBenchFigures? figures)
    {
        if (figures is null) return;
        runs.Add((setting, figures));
        Console.WriteLine($"  {side,-7} {setting,-22} training {figures.TrainTokensPerS,8:F0} tok/s ({figures.TrainTokensPerCpuS,8:F0}/CPU-s), " +
                          $"generation {figures.GenTokensPerS,8:F0} tok/s ({figures.GenTokensPerCpuS,8:F0}/CPU-s), peak RSS {(figures.PeakRssBytes ?? 0) / 1048576.0:F0} MiB; load {ModelBenchCommand.LoadAverage()}");
    }

    static bool Compare(string what, List<(string Setting, ModelBenchFigures F)> klear, List<(string Setting, ModelBenchFigures F)> peer,
        Func<ModelBenchFigures, double?> figure, double? goal)
    {
        var k = klear.Where(x => figure(x.F) is not null).MaxBy(x => figure(x.F)!.Value);
        var q = peer.Where(x => figure(x.F) is not null).MaxBy(x => figure(x.F)!.Value);
        double ratio = figure(k.F)!.Value / figure(q.F)!.Value;
        bool met = goal is null || ratio >= goal;
        Console.WriteLine($"  {what}: Klear best {figure(k.F):F0} ({k.Setting}), PyTorch best {figure(q.F):F0} ({q.Setting}) → {ratio:F2}x" +
                          (goal is { } g ? $" — goal ≥ {g:F1}x: {(met ? "met" : "NOT met")}" : ""));
        return met;
    }

    /// <summary>This program again, as a child: <c>dotnet klear.dll</c> or the apphost, whichever runs now.</summary>
    static ModelBenchFigures? Klear(ModelBenchPreset preset, int threads)
    {
        var self = Environment.ProcessPath ?? "dotnet";
        var arguments = new List<string>();
        if (Path.GetFileNameWithoutExtension(self) == "dotnet") arguments.Add(Assembly.GetEntryAssembly()!.Location);
        arguments.AddRange(["model", "bench", "--preset", preset.Name, "--threads", $"{threads}", "--parts", string.Join(',', Parts), "--json"]);
        var (code, output, error) = PyTorchPeer.RunProcess(self, arguments);
        if (code != 0)
        {
            Console.WriteLine($"  Klear child failed (exit {code}): {error.Trim()}");
            return null;
        }
        return ModelBenchFigures.FromJson(output.Trim().Split('\n')[^1]);
    }
}
