namespace Klear.Host.Data;

/// <summary>
/// Derives independent, reproducible seeds from (run seed, purpose, index) with SplitMix64, so every random draw of a
/// run is a function of where it happens rather than of how many draws came before. Resuming at step k therefore
/// draws exactly what an uninterrupted run draws at step k.
/// </summary>
public static class SeedSequence
{
    public static ulong Mix(ulong x)
    {
        x += 0x9E3779B97F4A7C15UL;
        x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9UL;
        x = (x ^ (x >> 27)) * 0x94D049BB133111EBUL;
        return x ^ (x >> 31);
    }

    /// <summary>A seed for draw <paramref name="index"/> of <paramref name="purpose"/> in a run seeded with <paramref name="seed"/>.</summary>
    public static long Derive(long seed, string purpose, long index)
    {
        ulong h = Mix((ulong)seed);
        foreach (var c in purpose) h = Mix(h ^ c);
        return (long)(Mix(h ^ (ulong)index) >> 1);
    }

    /// <summary>A System.Random for that draw (its seeded algorithm is fixed across .NET versions).</summary>
    public static Random Random(long seed, string purpose, long index) => new((int)(Derive(seed, purpose, index) & int.MaxValue));
}
