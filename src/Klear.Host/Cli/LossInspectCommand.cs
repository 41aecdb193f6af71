using System.CommandLine;
using System.Text.Json;
using Klear.Algorithms;

namespace Klear.Host.Cli;

/// <summary><c>loss inspect</c>: per-token loss and autograd d(loss)/d(logp) of an objective, as one JSON array.</summary>
public sealed class LossInspectCommand : KlearCommand
{
    readonly ObjectiveOptions _objective;
    readonly Option<double[]> _ratio = CliOption.Numbers("--ratio", "importance ratios r = exp(logp - old logp), one per token");
    readonly Option<double[]> _advantage = CliOption.Numbers("--advantage", "advantages A, one per ratio");

    public LossInspectCommand() : base("loss inspect", "loss and d(loss)/d(logp) per (ratio, advantage) token, as JSON")
    {
        _objective = new ObjectiveOptions(this);
        Add(_ratio);
        Add(_advantage);
    }

    protected override int Run(ParseResult parsed)
    {
        var objective = _objective.Read(parsed);
        var ratios = parsed.GetRequiredValue(_ratio);
        var advantages = parsed.GetRequiredValue(_advantage);
        if (ratios.Length != advantages.Length)
            throw new UsageException($"--ratio has {ratios.Length} values but --advantage has {advantages.Length}; give one advantage per ratio");
        foreach (var r in ratios)
            if (!(r > 0) || !double.IsFinite(r)) throw new UsageException($"--ratio: every ratio must be a finite number > 0, got {r}");
        foreach (var a in advantages)
            if (!double.IsFinite(a)) throw new UsageException($"--advantage: every advantage must be finite, got {a}");

        var results = objective.InspectTokens(ratios.Zip(advantages));

        using var stdout = Console.OpenStandardOutput();
        using (var json = new Utf8JsonWriter(stdout, new JsonWriterOptions { Indented = false }))
        {
            json.WriteStartArray();
            foreach (var t in results)
            {
                json.WriteStartObject();
                json.WriteNumber("ratio", t.Ratio);
                json.WriteNumber("advantage", t.Advantage);
                json.WriteNumber("loss", t.Loss);
                json.WriteNumber("grad", t.Grad);
                json.WriteEndObject();
            }
            json.WriteEndArray();
        }
        stdout.WriteByte((byte)'\n');
        return 0;
    }
}
