using Klear.Algorithms;
using TorchSharp;
using static TorchSharp.torch;

namespace Klear.Host.Training;

/// <summary>
/// What the trainers all-reduce, built on <see cref="ICollectives"/>: plain sums of doubles, the loss normalisers of a
/// mini-batch split over ranks, and gradients in flat buckets. With one rank every operation returns its input
/// untouched, so a single process computes exactly what it computed before ranks existed.
/// </summary>
public static class CollectiveOps
{
    /// <summary>Bucket size of the gradient all-reduce: one call per 16 Mi floats (64 MB), not one per tensor.</summary>
    public const int BucketFloats = 16 << 20;

    /// <summary>The element-wise sums over ranks of <paramref name="values"/>.</summary>
    public static double[] Sum(this ICollectives world, params double[] values)
    {
        if (world.Size == 1 || values.Length == 0) return values;
        using var t = torch.tensor(values, ScalarType.Float64);
        world.AllReduceSum(t);
        return t.data<double>().ToArray();
    }

    /// <summary>
    /// The normalisers (token and sequence counts per loss part) of the whole mini-batch, from this rank's
    /// micro-batches: local counts summed over ranks. A rank with no sequences in the mini-batch passes none and
    /// contributes zeros. The result is what one process computes from all micro-batches, for every aggregation mode.
    /// </summary>
    public static IReadOnlyList<Normaliser> GlobalNormalisers(this ICollectives world, Loss loss, IReadOnlyList<LossInputs> micro)
    {
        if (world.Size == 1) return loss.Normalisers(micro);
        var parts = loss.Parts.Length;
        var local = new double[2 * parts];
        if (micro.Count > 0)
        {
            var norms = loss.Normalisers(micro);
            for (int p = 0; p < parts; p++)
                (local[2 * p], local[2 * p + 1]) = (norms[p].Tokens.ToDouble(), norms[p].Sequences.ToDouble());
        }
        var sum = world.Sum(local);
        return Enumerable.Range(0, parts)
            .Select(p => new Normaliser(torch.tensor((float)sum[2 * p]), torch.tensor((float)sum[2 * p + 1]))).ToList();
    }

    /// <summary>
    /// Sums the parameters' gradients over ranks, in flat buckets of <see cref="BucketFloats"/>. A parameter without a
    /// gradient (this rank had no data) takes part with zeros, so every rank sends the same layout.
    /// </summary>
    public static void AllReduceGradients(this ICollectives world, IEnumerable<Tensor> parameters)
    {
        if (world.Size == 1) return;
        var ps = parameters.Where(p => p.requires_grad).ToList();
        if (ps.Any(p => p.grad is null))
        {
            // Zero gradients where there were none (adding 0 leaves the others' bits as they are).
            using var zero = ps.Select(p => p.sum() * 0).Aggregate((a, b) => a + b);
            zero.backward();
        }
        using var scope = torch.NewDisposeScope();
        foreach (var bucket in Buckets(ps))
        {
            var flat = torch.cat(bucket.Select(p => p.grad!.detach().flatten().to_type(ScalarType.Float32)).ToList(), 0);
            world.AllReduceSum(flat);
            long offset = 0;
            using var _ = torch.no_grad();
            foreach (var p in bucket)
            {
                var n = p.numel();
                p.grad!.copy_(flat.narrow(0, offset, n).view_as(p.grad!));
                offset += n;
            }
        }
    }

    static IEnumerable<List<Tensor>> Buckets(List<Tensor> ps)
    {
        var bucket = new List<Tensor>();
        long size = 0;
        foreach (var p in ps)
        {
            if (bucket.Count > 0 && size + p.numel() > BucketFloats) { yield return bucket; (bucket, size) = ([], 0); }
            bucket.Add(p);
            size += p.numel();
        }
        if (bucket.Count > 0) yield return bucket;
    }
}
