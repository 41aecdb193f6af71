using Plotly.NET;
using Plotly.NET.LayoutObjects;
using CChart = Plotly.NET.CSharp.Chart;

namespace Klear.Host.Metrics;

/// <summary>
/// The end-of-run chart (Plotly.NET, one self-contained HTML file with plotly.js inlined so it opens offline):
/// reward, accuracy (training and held-out), entropy, clip fractions and response length against the step.
/// </summary>
public static class RunChart
{
    static readonly (string Title, (string Phase, string Key, string Label)[] Series)[] Panels =
    [
        ("reward", [("rl", "critic/score/mean", "train reward")]),
        ("accuracy", [("rl", "reward/accuracy", "train accuracy"), ("eval-rl", "val/avg@4", "held-out avg@4"), ("eval-rl", "val/greedy", "held-out greedy")]),
        ("entropy", [("rl", "actor/entropy", "entropy")]),
        ("clip fractions", [("rl", "actor/pg_clipfrac", "pg_clipfrac"), ("rl", "actor/pg_clipfrac_lower", "pg_clipfrac_lower"), ("rl", "actor/gppo_preserved_frac", "gppo preserved")]),
        ("response length", [("rl", "response_length/mean", "tokens")]),
        ("SFT loss", [("sft", "sft/loss", "NLL")]),
    ];

    public static void Save(string path, IReadOnlyList<(string Phase, long Step, Dictionary<string, double> Values)> rows, string title)
    {
        var charts = Panels.Select(panel =>
        {
            var traces = panel.Series.Select(s =>
            {
                // The evaluation after SFT is where RL starts: plot it at RL step 0.
                var points = rows.Where(r => (r.Phase == s.Phase || s.Phase == "eval-rl" && r.Phase == "eval-sft") && r.Values.ContainsKey(s.Key))
                    .Select(r => (Step: r.Phase == "eval-sft" ? 0 : r.Step, Value: r.Values[s.Key])).ToList();
                return CChart.Line<long, double, string>(points.Select(p => p.Step).ToArray(), points.Select(p => p.Value).ToArray(), Name: s.Label, ShowMarkers: points.Count < 30);
            }).ToArray();
            return Plotly.NET.CSharp.GenericChartExtensions.WithYAxisStyle<string, string, string>(CChart.Combine(traces), TitleText: panel.Title);
        }).ToArray();
        var grid = CChart.Grid(charts, 3, 2);
        var inline = DisplayOptions.init(null, null, null, null, null, null,
            Microsoft.FSharp.Core.FSharpOption<PlotlyJSReference>.Some(PlotlyJSReference.Full));
        grid = Plotly.NET.Chart.withTitle(title, null).Invoke(grid);
        grid = Plotly.NET.Chart.withSize(1200.0, 1000.0).Invoke(grid);
        grid = Plotly.NET.Chart.withDisplayOptions(inline).Invoke(grid);
        var html = Plotly.NET.GenericChart.toEmbeddedHTML(grid);
        File.WriteAllText(path, html);
    }
}
