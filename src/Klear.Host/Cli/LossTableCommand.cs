using System.CommandLine;
using Klear.Algorithms;
using Klear.Host.Metrics;

namespace Klear.Host.Cli;

/// <summary><c>loss table</c>: the gradient weight F (d(loss)/d(logp) = -A·F) of every objective in every clip region,
/// measured by autograd on real tensors; the spec's table (docs/objectives.md) beside what the code does.</summary>
public sealed class LossTableCommand : KlearCommand
{
    readonly Option<double> _dualClip = CliOption.Double("--dual-clip", "dual clip c of every objective that has one", ObjectiveDefaults.RecipeDualClip);

    public LossTableCommand() : base("loss table", "gradient weight per clip region for every objective (autograd)") => Add(_dualClip);

    static readonly (string Label, string Objective, double Beta1, double Beta2)[] Columns =
    [
        ("ppo", "ppo", 1, 1), ("clip-higher", "clip-higher", 1, 1), ("gppo", "gppo", 1, 1),
        ("gppo β1=.25", "gppo-general", 0.25, 1), ("gppo-only-high", "gppo-only-high", 1, 1), ("cispo", "cispo", 1, 1),
    ];

    protected override int Run(ParseResult parsed)
    {
        var dualClip = parsed.GetValue(_dualClip);
        Console.WriteLine($"Gradient weight F per region, d(loss)/d(logp) = -A·F (eps_low {ObjectiveDefaults.EpsLow}, eps_high {ObjectiveDefaults.EpsHigh}, dual clip c = {dualClip}).");
        Console.WriteLine("Each cell is autograd's d(loss)/d(logp) / (-A) for one token; A = 0 shows the raw gradient.\n");
        var table = PlainText.Table(["region", ">A", ">r", .. Columns.Select(c => ">" + c.Label)]);
        foreach (var probe in Inspect.regionProbes)
        {
            var (label, a, r) = (probe.Item1, probe.Item2, probe.Item3);
            table.Row([label, $"{a}", $"{r}", .. Columns.Select(c => $"{Weight(c.Objective, c.Beta1, c.Beta2, dualClip, a, r):0.####}")]);
        }
        Console.WriteLine(PlainText.Render(table));
        return 0;
    }

    /// <summary>F of one token: autograd's d(loss)/d(logp) over -A (the raw gradient when A = 0).</summary>
    static double Weight(string objective, double beta1, double beta2, double dualClip, double a, double r)
    {
        PolicyObjective built;
        try { built = Objective.fromSettings(objective, null, null, dualClip, beta1, beta2); }
        catch (ObjectiveSettingException e) { throw new UsageException(e.Message); }
        var token = built.InspectTokens([(r, a)])[0];
        return (a == 0 ? token.Grad : token.Grad / -a) + 0.0;   // + 0.0 turns -0 into 0
    }
}
