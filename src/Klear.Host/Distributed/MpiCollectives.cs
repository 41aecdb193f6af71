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
        var clock = Stopwatch.StartNew();
        using var _ = torch.no_grad();
        int n = checked((int)values.numel());
        switch (values.dtype)
        {
            case ScalarType.Float32:
            {
                var host = values.data<float>().ToArray();
                Check(MPI_Allreduce(InPlace, host, n, MpiFloat, Sum, CommWorld), "MPI_Allreduce");
                using var summed = torch.tensor(host, values.shape);
                values.copy_(summed);
                Stats.Add(4L * n, clock.Elapsed.TotalSeconds);
                break;
            }
            case ScalarType.Float64:
            {
                var host = values.data<double>().ToArray();
                Check(MPI_AllreduceDouble(InPlace, host, n, MpiDouble, Sum, CommWorld), "MPI_Allreduce");
                using var summed = torch.tensor(host, values.shape);
                values.copy_(summed);
                Stats.Add(8L * n, clock.Elapsed.TotalSeconds);
                break;
            }
            default: throw new ArgumentException($"MPI all-reduce sums float32 or float64 tensors, got {values.dtype}");
        }
    }

    public byte[][] AllGather(byte[] mine)
    {
        var counts = new int[Size];
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
        Check(MPI_Bcast(length, 1, MpiInt, 0, CommWorld), "MPI_Bcast");
        var buffer = Rank == 0 ? fromLeader : new byte[length[0]];
        Check(MPI_Bcast(buffer, buffer.Length, MpiByte, 0, CommWorld), "MPI_Bcast");
        return buffer;
    }

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
