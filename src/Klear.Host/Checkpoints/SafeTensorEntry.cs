namespace Klear.Host.Checkpoints;

/// <summary>One tensor in a safetensors header: element type, shape and byte range relative to the data section.</summary>
public sealed record SafeTensorEntry(string Name, SafeTensorsDtype Dtype, long[] Shape, long Begin, long End)
{
    public long ElementCount => Shape.Aggregate(1L, (a, d) => a * d);

    public static int ElementSize(SafeTensorsDtype dtype) => dtype switch
    {
        SafeTensorsDtype.F64 => 8,
        SafeTensorsDtype.F32 => 4,
        _ => 2,
    };
}
