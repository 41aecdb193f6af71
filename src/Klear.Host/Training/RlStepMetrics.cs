namespace Klear.Host.Training;

/// <summary>Accumulates the loss algebra's sum/count metrics over micro-batches (as doubles, reduced once per step).</summary>
public sealed class RlStepMetrics
{
    readonly Dictionary<string, (double Sum, double Count)> _acc = new(StringComparer.Ordinal);

    public void Add(Microsoft.FSharp.Collections.FSharpMap<string, Klear.Algorithms.Metric> metrics)
    {
        foreach (var kv in metrics)
        {
            var sum = kv.Value.Sum.to_type(TorchSharp.torch.ScalarType.Float64).item<double>();
            var count = kv.Value.Count.to_type(TorchSharp.torch.ScalarType.Float64).item<double>();
            _acc[kv.Key] = _acc.TryGetValue(kv.Key, out var a) ? (a.Sum + sum, a.Count + count) : (sum, count);
        }
    }

    /// <summary>Mean per metric over everything added; 0 for a metric that counted nothing.</summary>
    public Dictionary<string, double> Means() =>
        _acc.ToDictionary(kv => kv.Key, kv => kv.Value.Count > 0 ? kv.Value.Sum / kv.Value.Count : 0.0);
}
