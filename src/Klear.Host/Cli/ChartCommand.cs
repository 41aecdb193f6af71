using System.CommandLine;
using Klear.Host.Metrics;

namespace Klear.Host.Cli;

/// <summary><c>klear chart --run DIR</c>: (re)draws a run's chart.html from its metrics.jsonl, e.g. for a run still going.</summary>
public sealed class ChartCommand : KlearCommand
{
    readonly Option<string> _run = CliOption.Text("--run", "the run directory (holding metrics.jsonl)", required: true);

    public ChartCommand() : base("chart", "draw chart.html of a run directory from its metrics.jsonl") => Add(_run);

    protected override bool UsesTorch => false;

    protected override int Run(ParseResult parsed)
    {
        var dir = parsed.GetRequiredValue(_run);
        var metrics = Path.Combine(dir, "metrics.jsonl");
        if (!File.Exists(metrics)) throw new UsageException($"{metrics} not found");
        var output = Path.Combine(dir, "chart.html");
        RunChart.Save(output, MetricsLog.Read(metrics), $"Klear — {Path.GetFileName(Path.GetFullPath(dir).TrimEnd(Path.DirectorySeparatorChar))}");
        Console.WriteLine(output);
        return 0;
    }
}
