using System.Text.Json;
using System.Text.Json.Nodes;
using TorchSharp;

namespace Klear.Host.Metrics;

/// <summary>
/// One row of metrics per step to <c>metrics.jsonl</c> (names as in docs/objectives.md, namespaced like verl:
/// <c>actor/pg_clipfrac</c>, <c>critic/score/mean</c>, <c>charts/lr</c>) and the same scalars to TensorBoard.
/// </summary>
public sealed class MetricsLog : IDisposable
{
    readonly StreamWriter _jsonl;
    readonly TorchSharp.Modules.SummaryWriter _tb;
    readonly List<(string Phase, long Step, Dictionary<string, double> Values)> _rows = [];

    public MetricsLog(string runDir, bool append = false)
    {
        _jsonl = new StreamWriter(Path.Combine(runDir, "metrics.jsonl"), append);
        _tb = torch.utils.tensorboard.SummaryWriter(Path.Combine(runDir, "tb"));
    }

    public IReadOnlyList<(string Phase, long Step, Dictionary<string, double> Values)> Rows => _rows;

    /// <summary>Writes one row; <paramref name="phase"/> is "sft", "rl" or "eval", stored as the row's "phase".</summary>
    public void Write(string phase, long step, IReadOnlyDictionary<string, double> values)
    {
        var row = new JsonObject { ["phase"] = phase, ["step"] = step };
        foreach (var (k, v) in values.OrderBy(kv => kv.Key, StringComparer.Ordinal))
            row[k] = double.IsFinite(v) ? JsonValue.Create(v) : JsonValue.Create(v.ToString(System.Globalization.CultureInfo.InvariantCulture));
        _jsonl.WriteLine(row.ToJsonString());
        _jsonl.Flush();
        WriteScalars(phase, step, values);
        _rows.Add((phase, step, new Dictionary<string, double>(values)));
    }

    /// <summary>
    /// The same values as TensorBoard scalars tagged "phase/name"; TensorBoard has no NaN or infinity to show, so those
    /// stay in metrics.jsonl only.
    /// </summary>
    void WriteScalars(string phase, long step, IReadOnlyDictionary<string, double> values)
    {
        foreach (var (name, v) in values)
            if (double.IsFinite(v)) _tb.add_scalar($"{phase}/{name}", (float)v, checked((int)step));
    }

    /// <summary>The numeric rows of a metrics.jsonl file, in order.</summary>
    public static List<(string Phase, long Step, Dictionary<string, double> Values)> Read(string path) =>
        File.ReadLines(path).Where(l => l.Length > 0).Select(l =>
        {
            var o = JsonNode.Parse(l)!.AsObject();
            var values = o.Where(kv => kv.Value is JsonValue v && v.GetValueKind() == JsonValueKind.Number)
                .Where(kv => kv.Key != "step").ToDictionary(kv => kv.Key, kv => kv.Value!.GetValue<double>());
            return (o["phase"]!.GetValue<string>(), o["step"]!.GetValue<long>(), values);
        }).ToList();

    // SummaryWriter opens, appends to and closes its event file on every scalar: nothing of it to dispose.
    public void Dispose() => _jsonl.Dispose();
}
