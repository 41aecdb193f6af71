using System.Diagnostics;
using Klear.Algorithms;
using TorchSharp;
using static TorchSharp.torch;

namespace Klear.Host.Cli;

/// <summary><c>loss bench</c>: forward+backward time of GPPO and CISPO against clip-higher on random [B, T] inputs,
/// token-mean with dual clip 10 as in the recipe. Runs alternate between objectives (the machine is noisy) and the
/// medians are compared.</summary>
public sealed class LossBenchCommand : ICommand
{
    public string Name => "loss bench";
    public string Summary => "benchmark GPPO / CISPO against clip-higher (forward + backward)";

    public int Run(CliArgs args)
    {
        long b = args.Int("batch", 64), t = args.Int("length", 2048);
        int repeats = args.Int("repeats", 21), threads = args.Int("threads", 0);
        var seed = args.Int("seed", 0);
        args.RejectUnknown();
        if (b < 1 || t < 1 || repeats < 1) throw new UsageException("--batch, --length and --repeats must be >= 1");
        if (threads > 0) torch.set_num_threads(threads);

        string[] names = ["clip-higher", "gppo", "cispo"];
        var losses = names.Select(n => Loss.Aggregate(Aggregation.TokenMean, ObjectiveOptions.Read(new CliArgs(["--dual-clip", "10"]), n))).ToArray();

        var gen = new torch.Generator((ulong)seed);
        using var logp0 = -torch.rand([b, t], generator: gen) * 3;                     // log-probs in (-3, 0]
        using var oldLogp = logp0 + torch.randn([b, t], generator: gen) * 0.2;         // ratios mostly in [0.6, 1.6]
        using var adv = (torch.randn([b, 1], generator: gen)).expand(b, t).contiguous();
        using var lengths = torch.randint(t / 4, t + 1, [b, 1], generator: gen);
        using var mask = torch.arange(t).unsqueeze(0).lt(lengths).to_type(ScalarType.Float32);

        var times = names.Select(_ => new List<double>()).ToArray();
        for (int rep = -3; rep < repeats; rep++)            // three warm-up rounds
            for (int k = 0; k < names.Length; k++)
            {
                var i = (k + Math.Max(rep, 0)) % names.Length; // rotate the order each round
                using var scope = torch.NewDisposeScope();
                var logp = logp0.detach().requires_grad_(true);
                var sw = Stopwatch.StartNew();
                var output = losses[i].Evaluate(LossInputs.Of(PolicyBatch.Create(logp, oldLogp, adv, mask)));
                output.Total.backward();
                _ = logp.grad!.sum().item<float>();              // wait for the backward to finish
                sw.Stop();
                if (rep >= 0) times[i].Add(sw.Elapsed.TotalMilliseconds);
            }

        double Median(List<double> xs) { var s = xs.OrderBy(x => x).ToList(); return s[s.Count / 2]; }
        var baseline = Median(times[0]);
        Console.WriteLine($"loss bench: B={b} T={t}, token-mean, dual clip 10, {repeats} timed runs each, {torch.get_num_threads()} threads");
        Console.WriteLine($"{"objective",-12} {"median ms",10} {"min ms",8} {"vs clip-higher",15}");
        for (int i = 0; i < names.Length; i++)
            Console.WriteLine($"{names[i],-12} {Median(times[i]),10:0.00} {times[i].Min(),8:0.00} {Median(times[i]) / baseline,14:0.000}x");
        return 0;
    }
}
