using System.Diagnostics;
using Klear.Host.Training;
using TorchSharp;
using static TorchSharp.torch;
using static Klear.Host.Distributed.MpiNative;

namespace Klear.Host.Distributed;

/// <summary>
/// <see cref="ICollectives"/> over MPI's world communicator. Tensors are staged through host arrays (CPU tensors here;
/// a CUDA tensor would be copied to the host and back, see docs/distributed.md for NCCL instead). Errors return
/// (MPI_ERRORS_RETURN) and become <see cref="MpiException"/>s, which the command turns into an abort of the whole job
/// naming the rank; a rank that dies is noticed by mpiexec, which ends the others.
/// </summary>
public sealed class MpiCollectives : ICollectives, IDisposable
{
    bool _finalized;

    MpiCollectives(int rank, int size) => (Rank, Size) = (rank, size);

    public int Rank { get; }
    public int Size { get; }
    public CollectiveStats Stats { get; } = new();

    /// <summary>Longest wait in one collective before this rank ends the job (null: no limit).</summary>
    public TimeSpan? Timeout { get; set; }
    long _calls;

    /// <summary>
    /// While a collective blocks: after <see cref="Timeout"/> a timer thread names the call and ends this process,
    /// which mpiexec sees as a dead rank and so ends the others. Not MPI_Abort: the blocked thread still holds MPI
    /// (THREAD_SERIALIZED), and exiting is what a dead rank does anyway.
    /// </summary>
    IDisposable? Watch(string call)
    {
        if (Timeout is not { } limit) return null;
        var number = Interlocked.Increment(ref _calls);
        return new Timer(_ =>
        {
            Console.Error.WriteLine($"klear: rank {Rank} of {Size} waited over {limit.TotalSeconds:F0} s in {call} (collective #{number}): " +
                                    $"another rank is hung or far behind (trainer.collective_timeout_seconds); ending the job");
            Console.Error.Flush();
            Environment.Exit(3);
        }, null, limit, System.Threading.Timeout.InfiniteTimeSpan);
    }

    /// <summary>Initialises MPI (once per process) and joins the world communicator.</summary>
    public static MpiCollectives Init()
    {
        Check(MPI_Initialized(out var initialised), "MPI_Initialized");
        // Collectives come from one thread at a time (the training loop); SERIALIZED says so without promising more.
        if (initialised == 0) Check(MPI_Init_thread(IntPtr.Zero, IntPtr.Zero, ThreadSerialized, out _), "MPI_Init_thread");
        Check(MPI_Comm_set_errhandler(CommWorld, ErrorsReturn), "MPI_Comm_set_errhandler");
        Check(MPI_Comm_rank(CommWorld, out var rank), "MPI_Comm_rank");
        Check(MPI_Comm_size(CommWorld, out var size), "MPI_Comm_size");
        return new MpiCollectives(rank, size);
    }

    public void AllReduceSum(Tensor values)
    {
        if (values.device_type != DeviceType.CPU) throw new ArgumentException($"MPI all-reduce stages CPU tensors; got one on {values.device}");
        var (type, width) = values.dtype switch
        {
            ScalarType.Float32 => (MpiFloat, 4),
            ScalarType.Float64 => (MpiDouble, 8),
            _ => throw new ArgumentException($"MPI all-reduce sums float32 or float64 tensors, got {values.dtype}"),
        };
        if (!values.is_contiguous()) throw new ArgumentException("MPI all-reduce sums a contiguous tensor in place (the gradient buckets are)");
        var clock = Stopwatch.StartNew();
        int n = checked((int)values.numel());
        // In place on the tensor's own memory: no managed copy, so no large-object-heap churn (which made the GC, and
        // with it TorchSharp's finalizers, run mid-step; see docs/platform.md) and no copy back.
        using (Watch("MPI_Allreduce")) Check(MPI_Allreduce(InPlace, THSTensor_data(values.Handle), n, type, Sum, CommWorld), "MPI_Allreduce");
        GC.KeepAlive(values);
        Stats.Add((long)width * n, clock.Elapsed.TotalSeconds);
    }

    public byte[][] AllGather(byte[] mine)
    {
        var counts = new int[Size];
        using var watch = Watch("MPI_Allgather");
        Check(MPI_Allgather([mine.Length], 1, MpiInt, counts, 1, MpiInt, CommWorld), "MPI_Allgather");
        var displacements = new int[Size];
        for (int r = 1; r < Size; r++) displacements[r] = checked(displacements[r - 1] + counts[r - 1]);
        var all = new byte[displacements[^1] + counts[^1]];
        Check(MPI_Allgatherv(mine, mine.Length, MpiByte, all, counts, displacements, MpiByte, CommWorld), "MPI_Allgatherv");
        return Enumerable.Range(0, Size).Select(r => all.AsSpan(displacements[r], counts[r]).ToArray()).ToArray();
    }

    public byte[] Broadcast(byte[] fromLeader)
    {
        int[] length = [Rank == 0 ? fromLeader.Length : 0];
        using var watch = Watch("MPI_Bcast");
        Check(MPI_Bcast(length, 1, MpiInt, 0, CommWorld), "MPI_Bcast");
        var buffer = Rank == 0 ? fromLeader : new byte[length[0]];
        Check(MPI_Bcast(buffer, buffer.Length, MpiByte, 0, CommWorld), "MPI_Bcast");
        return buffer;
    }

    // The tensor's storage (TorchSharp's own native entry point; its managed wrapper is internal).
    [System.Runtime.InteropServices.DllImport("LibTorchSharp")] static extern IntPtr THSTensor_data(IntPtr handle);

    /// <summary>Ends every rank of the job with <paramref name="code"/> (MPI_Abort); does not return.</summary>
    public void Abort(int code)
    {
        MPI_Abort(CommWorld, code);
        Environment.Exit(code);
    }

    /// <summary>Leaves MPI (every rank calls it at the end of a run).</summary>
    public void Dispose()
    {
        if (_finalized) return;
        _finalized = true;
        MPI_Finalize();
    }
}
