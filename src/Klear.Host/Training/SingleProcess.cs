using static TorchSharp.torch;

namespace Klear.Host.Training;

/// <summary>One process, one rank: every collective is the identity, so the trainers run exactly as they do alone.</summary>
public sealed class SingleProcess : ICollectives
{
    public static SingleProcess Instance { get; } = new();

    SingleProcess() { }

    public int Rank => 0;
    public int Size => 1;
    public CollectiveStats Stats { get; } = new();
    public void AllReduceSum(Tensor values) { }
    public byte[][] AllGather(byte[] mine) => [mine];
    public byte[] Broadcast(byte[] fromLeader) => fromLeader;
}
