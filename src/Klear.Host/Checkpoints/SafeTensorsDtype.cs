namespace Klear.Host.Checkpoints;

/// <summary>The element types Klear reads from safetensors files (F64, F32, F16, BF16) and the two it writes.</summary>
public enum SafeTensorsDtype
{
    F32,
    BF16,
    F16,
    F64,
}
