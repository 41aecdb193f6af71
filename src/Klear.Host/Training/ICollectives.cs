using static TorchSharp.torch;

namespace Klear.Host.Training;

/// <summary>
/// The collective operations data-parallel training needs, over the ranks of one job (SPMD: every rank runs the same
/// program and calls the same collectives in the same order). The trainers see only this; the single-process run uses
/// <see cref="SingleProcess"/>, whose operations are the identity, and the MPI backend (Distributed/) sums across
/// processes. A GPU backend (NCCL, bootstrapped through MPI) would implement the same interface on device tensors.
/// </summary>
public interface ICollectives
{
    /// <summary>This process's rank, 0 … <see cref="Size"/> - 1; rank 0 writes the run's files.</summary>
    int Rank { get; }

    /// <summary>How many ranks the job has (1 for a single process).</summary>
    int Size { get; }

    /// <summary>Replaces a contiguous float32 or float64 tensor by its sum over the ranks (every rank gets the sum).</summary>
    void AllReduceSum(Tensor values);

    /// <summary>Every rank's bytes, in rank order, on every rank.</summary>
    byte[][] AllGather(byte[] mine);

    /// <summary>Rank 0's bytes on every rank (the argument is ignored on the others).</summary>
    byte[] Broadcast(byte[] fromLeader);

    /// <summary>What the all-reduces of this process cost so far (the benchmark's communication figures).</summary>
    CollectiveStats Stats { get; }
}
