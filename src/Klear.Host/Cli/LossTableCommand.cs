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

    /// <summary>One column per registered objective, in registry order (gppo-general with the authors' β1 = 0.25).</summary>
    static readonly (string Label, string Objective, double Beta1, double Beta2)[] Columns =
        Objective.names.Select(n => n == "gppo-general" ? ("gppo β1=.25", n, 0.25, 1.0) : (n, n, 1.0, 1.0)).ToArray();

    protected override int Run(ParseResult parsed)
    {
        var dualClip = parsed.GetValue(_dualClip);
        Console.WriteLine($"Gradient weight F per region, d(loss)/d(logp) = -A·F (eps_low {ObjectiveDefaults.EpsLow}, eps_high {ObjectiveDefaults.EpsHigh}, dual clip c = {dualClip}).");
        Console.WriteLine("Each cell is autograd's d(loss)/d(logp) / (-A) for one token (a one-token sequence for gspo and gmpo, whose");
        Console.WriteLine("eps bound the log-ratio); A = 0 shows the raw gradient. sapo has no clip: its weight is 4·σ·(1-σ)·r, σ = σ(τ(r-1)).\n");
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
        try { built = Objective.fromSettings(objective, null, null, dualClip, beta1, beta2, null, null); }
        catch (ObjectiveSettingException e) { throw new UsageException(e.Message); }
        var token = built.InspectTokens([(r, a)])[0];
        return (a == 0 ? token.Grad : token.Grad / -a) + 0.0;   // + 0.0 turns -0 into 0
    }
}
