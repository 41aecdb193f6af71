using Klear.Algorithms;
using Microsoft.FSharp.Collections;

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
        var dualClip = args.Double("dual-clip", ObjectiveDefaults.RecipeDualClip);
        args.RejectUnknown();
        var probes = Inspect.regionProbes.ToList();
        Console.WriteLine($"Gradient weight F per region, d(loss)/d(logp) = -A·F (eps_low {ObjectiveDefaults.EpsLow}, eps_high {ObjectiveDefaults.EpsHigh}, dual clip c = {dualClip}).");
        Console.WriteLine("Each cell is autograd's d(loss)/d(logp) / (-A) for one token; A = 0 shows the raw gradient.\n");
        Console.WriteLine($"| {"region",-22} | {"A",4} | {"r",5} | " + string.Join(" | ", Columns.Select(c => $"{c.Label,14}")) + " |");
        Console.WriteLine($"|{new string('-', 24)}|{new string('-', 6)}|{new string('-', 7)}|" + string.Join("|", Columns.Select(_ => new string('-', 16))) + "|");
        foreach (var probe in probes)
        {
            var (label, a, r) = (probe.Item1, probe.Item2, probe.Item3);
            var cells = Columns.Select(c =>
            {
                PolicyObjective objective;
                try { objective = Objective.fromSettings(c.Objective, null, null, dualClip, c.Beta1, c.Beta2); }
                catch (ObjectiveSettingException e) { throw new UsageException(e.Message); }
                var token = Inspect.tokens(objective, ListModule.OfSeq([Tuple.Create(r, a)])).Head;
                var f = (a == 0 ? token.Grad : token.Grad / -a) + 0.0;   // + 0.0 turns -0 into 0
                return $"{f,14:0.####}";
            });
            Console.WriteLine($"| {label,-22} | {a,4} | {r,5} | " + string.Join(" | ", cells) + " |");
        }
        return 0;
    }
}
