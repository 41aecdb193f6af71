namespace Klear.Host.Training;

/// <summary>Running totals of one process's all-reduce traffic: calls, payload bytes (per rank) and wall seconds.</summary>
public sealed class CollectiveStats
{
    public long Calls { get; private set; }
    public long Bytes { get; private set; }
    public double Seconds { get; private set; }

    public void Add(long bytes, double seconds) => (Calls, Bytes, Seconds) = (Calls + 1, Bytes + bytes, Seconds + seconds);

    /// <summary>A copy of the totals now, so a step can report its own share (now minus then).</summary>
    public (long Calls, long Bytes, double Seconds) Snapshot() => (Calls, Bytes, Seconds);
}
