using System.CommandLine;
using System.Diagnostics;
using Klear.Algorithms;
using Klear.Host.Metrics;
using TorchSharp;
using static TorchSharp.torch;

namespace Klear.Host.Cli;

/// <summary><c>loss bench</c>: forward+backward time of GPPO, CISPO, CE-GPPO, SAPO and GMPO against clip-higher on random [B, T] inputs,
/// token-mean with dual clip 10 as in the recipe. Runs alternate between objectives (the machine is noisy) and the
/// medians are compared.</summary>
public sealed class LossBenchCommand : KlearCommand
{
    readonly Option<int> _batch = CliOption.Int("--batch", "sequences B", 64);
    readonly Option<int> _length = CliOption.Int("--length", "tokens per sequence T", 2048);
    readonly Option<int> _repeats = CliOption.Int("--repeats", "timed runs per objective", 21);
    readonly Option<int> _threads = CliOption.Int("--threads", "libtorch threads (0: libtorch's default)", 0);
    readonly Option<int> _seed = CliOption.Int("--seed", "seed of the random inputs", 0);

    public LossBenchCommand() : base("loss bench", "benchmark GPPO / CISPO / CE-GPPO / SAPO / GMPO against clip-higher (forward + backward)")
    {
        foreach (var option in new Option[] { _batch, _length, _repeats, _threads, _seed }) Add(option);
    }

    static readonly string[] Names = ["clip-higher", "gppo", "cispo", "ce-gppo", "sapo", "gmpo"];

    protected override int Run(ParseResult parsed)
    {
        long b = parsed.GetValue(_batch), t = parsed.GetValue(_length);
        int repeats = parsed.GetValue(_repeats), threads = parsed.GetValue(_threads);
        if (b < 1 || t < 1 || repeats < 1) throw new UsageException("--batch, --length and --repeats must be >= 1");
        if (threads > 0) torch.set_num_threads(threads);
        var times = Time(b, t, repeats, parsed.GetValue(_seed));

        double Median(List<double> xs) { var s = xs.OrderBy(x => x).ToList(); return s[s.Count / 2]; }
        var baseline = Median(times[0]);
        Console.WriteLine($"loss bench: B={b} T={t}, token-mean, dual clip 10, {repeats} timed runs each, {torch.get_num_threads()} threads");
        // The machine may be shared: the figures mean little without the load they were taken under.
        Console.WriteLine($"load average: {LoadAverage()}");
        var table = PlainText.Table("objective", ">median ms", ">min ms", ">vs clip-higher");
        for (int i = 0; i < Names.Length; i++)
            table.Row(Names[i], $"{Median(times[i]):0.00}", $"{times[i].Min():0.00}", $"{Median(times[i]) / baseline:0.000}x");
        Console.WriteLine(PlainText.Render(table));
        return 0;
    }

    static string LoadAverage()
    {
        try { return string.Join(' ', File.ReadAllText("/proc/loadavg").Split(' ').Take(3)) + " (1, 5, 15 min)"; }
        catch (IOException) { return "unknown"; }
    }

    /// <summary>Milliseconds of each objective's forward + backward, per timed run, in <see cref="Names"/>' order.</summary>
    static List<double>[] Time(long b, long t, int repeats, int seed)
    {
        var losses = Names.Select(n => Loss.Aggregate(Aggregation.TokenMean, Objective.fromSettings(n, null, null, ObjectiveDefaults.RecipeDualClip, null, null, null, null))).ToArray();

        var gen = new torch.Generator((ulong)seed);
        using var logp0 = -torch.rand([b, t], generator: gen) * 3;                     // log-probs in (-3, 0]
        using var oldLogp = logp0 + torch.randn([b, t], generator: gen) * 0.2;         // ratios mostly in [0.6, 1.6]
        using var adv = (torch.randn([b, 1], generator: gen)).expand(b, t).contiguous();
        using var lengths = torch.randint(t / 4, t + 1, [b, 1], generator: gen);
        using var mask = torch.arange(t).unsqueeze(0).lt(lengths).to_type(ScalarType.Float32);

        var times = Names.Select(_ => new List<double>()).ToArray();
        for (int rep = -3; rep < repeats; rep++)            // three warm-up rounds
            for (int k = 0; k < Names.Length; k++)
            {
                var i = (k + Math.Max(rep, 0)) % Names.Length; // rotate the order each round
                using var scope = torch.NewDisposeScope();
                var logp = logp0.detach().requires_grad_(true);
                var sw = Stopwatch.StartNew();
                var output = losses[i].Evaluate(LossInputs.Of(PolicyBatch.Create(logp, oldLogp, adv, mask)));
                output.Total.backward();
                _ = logp.grad!.sum().item<float>();              // wait for the backward to finish
                sw.Stop();
                if (rep >= 0) times[i].Add(sw.Elapsed.TotalMilliseconds);
            }
        return times;
    }
}
