using Klear.Algorithms;

namespace Klear.Host.Cli;

/// <summary><c>loss table</c>: the gradient weight F (d(loss)/d(logp) = -A·F) of every objective in every clip region,
/// measured by autograd on real tensors; the spec's table (objectives.md) side by side with what the code does.</summary>
public sealed class LossTableCommand : ICommand
{
    public string Name => "loss table";
    public string Summary => "gradient weight per clip region for every objective (autograd)";

    static readonly (string Label, string Objective, double Beta1, double Beta2)[] Columns =
    [
        ("ppo", "ppo", 1, 1), ("clip-higher", "clip-higher", 1, 1), ("gppo", "gppo", 1, 1),
        ("gppo β1=.25", "gppo-general", 0.25, 1), ("gppo-only-high", "gppo-only-high", 1, 1), ("cispo", "cispo", 1, 1),
    ];

    public int Run(CliArgs args)
    {
        var dualClip = args.Double("dual-clip", 10);
        args.RejectUnknown();
        var probes = Inspect.regionProbes.ToList();
        Console.WriteLine($"Gradient weight F per region, d(loss)/d(logp) = -A·F (eps_low 0.2, eps_high 0.28, dual clip c = {dualClip}).");
        Console.WriteLine("Each cell is autograd's d(loss)/d(logp) / (-A) for one token; A = 0 shows the raw gradient.\n");
        Console.WriteLine($"| {"region",-22} | {"A",4} | {"r",5} | " + string.Join(" | ", Columns.Select(c => $"{c.Label,14}")) + " |");
        Console.WriteLine($"|{new string('-', 24)}|{new string('-', 6)}|{new string('-', 7)}|" + string.Join("|", Columns.Select(_ => new string('-', 16))) + "|");
        foreach (var probe in probes)
        {
            var (label, a, r) = (probe.Item1, probe.Item2, probe.Item3);
            var cells = Columns.Select(c =>
            {
                var settings = new ObjectiveSettings(0.2, null, Microsoft.FSharp.Core.FSharpOption<double>.Some(dualClip), c.Beta1, c.Beta2);
                var built = Objective.build(Objective.parse(c.Objective).ResultValue, settings);
                if (built.IsError) throw new UsageException(built.ErrorValue);
                var token = built.ResultValue.InspectTokens([(r, a)])[0];
                var f = (a == 0 ? token.Grad : token.Grad / -a) + 0.0;   // + 0.0 turns -0 into 0
                return $"{f,14:0.####}";
            });
            Console.WriteLine($"| {label,-22} | {a,4} | {r,5} | " + string.Join(" | ", cells) + " |");
        }
        return 0;
    }
}
