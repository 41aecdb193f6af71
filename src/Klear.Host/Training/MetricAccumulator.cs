using Klear.Algorithms;
using TorchSharp;

namespace Klear.Host.Training;

/// <summary>
/// Adds up the loss algebra's sum/count metrics over the micro-batches of a step (or the chunks of a validation set)
/// as tensors and reads them off the device once, at the end: one sync per step rather than two per metric per
/// micro-batch. Sums and counts are added in float64, as a double accumulator would add them.
/// </summary>
public sealed class MetricAccumulator : IDisposable
{
    // The running tensors outlive the micro-batches' dispose scopes, so this object owns (and disposes) them.
    readonly Dictionary<string, Metric> _acc = new(StringComparer.Ordinal);
    readonly Dictionary<string, Metric> _whole = new(StringComparer.Ordinal);

    /// <summary>Adds one micro-batch's metrics.</summary>
    public void Add(IReadOnlyDictionary<string, Metric> metrics)
    {
        foreach (var (name, metric) in metrics)
        {
            var wide = metric.ToFloat64();
            Replace(_acc, name, _acc.TryGetValue(name, out var sum) ? sum + wide : Copy(wide));
        }
    }

    /// <summary>A metric of the whole step (not accumulated), which takes the place of an accumulated one of that name.</summary>
    public void Set(string name, Metric metric) => Replace(_whole, name, Copy(metric));

    /// <summary>Every metric's mean, in one read; 0 for a metric that counted nothing.</summary>
    public Dictionary<string, double> Read()
    {
        var all = new Dictionary<string, Metric>(_acc, StringComparer.Ordinal);
        foreach (var (name, metric) in _whole) all[name] = metric;
        return Metric.ReadAll(all);
    }

    /// <summary>
    /// Sums every metric's sum and count over ranks (in one all-reduce), so <see cref="Read"/> gives the metrics of
    /// the whole step. Ranks may have seen different metric names (one with no data sees none): the union is reduced,
    /// a name a rank lacks counting zero there.
    /// </summary>
    public void AllReduce(ICollectives world)
    {
        if (world.Size == 1) return;
        Reduce(world, _acc);
        Reduce(world, _whole);
    }

    static void Reduce(ICollectives world, Dictionary<string, Metric> metrics)
    {
        var mine = System.Text.Encoding.UTF8.GetBytes(string.Join('\n', metrics.Keys));
        var names = world.AllGather(mine).SelectMany(b => System.Text.Encoding.UTF8.GetString(b).Split('\n'))
            .Where(n => n.Length > 0).Distinct().Order(StringComparer.Ordinal).ToList();
        if (names.Count == 0) return;
        var packed = new double[2 * names.Count];
        for (int i = 0; i < names.Count; i++)
            if (metrics.TryGetValue(names[i], out var m))
                (packed[2 * i], packed[2 * i + 1]) = (m.Sum.ToDouble(), m.Count.ToDouble());
        var sum = world.Sum(packed);
        for (int i = 0; i < names.Count; i++)
            Replace(metrics, names[i], new Metric(torch.tensor(sum[2 * i], torch.ScalarType.Float64), torch.tensor(sum[2 * i + 1], torch.ScalarType.Float64)));
    }

    public void Dispose()
    {
        foreach (var m in _acc.Values.Concat(_whole.Values)) { m.Sum.Dispose(); m.Count.Dispose(); }
        _acc.Clear();
        _whole.Clear();
    }

    static Metric Copy(Metric m) => new(m.Sum.clone(), m.Count.clone());

    static void Replace(Dictionary<string, Metric> into, string name, Metric value)
    {
        value.Sum.DetachFromDisposeScope();
        value.Count.DetachFromDisposeScope();
        if (into.TryGetValue(name, out var old)) { old.Sum.Dispose(); old.Count.Dispose(); }
        into[name] = value;
    }
}
