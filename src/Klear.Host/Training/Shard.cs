namespace Klear.Host.Training;

/// <summary>
/// How work is divided among ranks: contiguous, in order, sizes differing by at most one (the same split the trainers
/// use for mini- and micro-batches), so concatenating the ranks' parts in rank order gives back the whole.
/// </summary>
public static class Shard
{
    /// <summary>The [start, end) of part <paramref name="part"/> of <paramref name="parts"/> over <paramref name="count"/> items.</summary>
    public static (int Start, int End) Range(int count, int part, int parts) =>
        ((int)((long)count * part / parts), (int)((long)count * (part + 1) / parts));

    /// <summary>The items of part <paramref name="part"/> of <paramref name="parts"/>.</summary>
    public static T[] Of<T>(T[] items, int part, int parts)
    {
        var (start, end) = Range(items.Length, part, parts);
        return items[start..end];
    }

    /// <summary>This rank's part of <paramref name="items"/>.</summary>
    public static T[] Mine<T>(this ICollectives world, T[] items) => Of(items, world.Rank, world.Size);
}
