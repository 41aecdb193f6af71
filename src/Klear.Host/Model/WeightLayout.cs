using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Klear.Host.Model;

/// <summary>
/// How the projections' weights sit in memory. A weight keeps its logical shape [out, in] (checkpoints, optimizer
/// state and every caller see that), but its elements are stored in [in, out] order, the layout in which
/// <c>x @ Wᵀ</c> reaches MKL as a plain row-major operand. On MKL's Intel kernels a small-batch product (a decoding
/// step: 16 rows) with the usual [out, in] storage spends most of its time re-packing the whole weight on every call
/// (<c>mkl_blas_avx512_sgemm_scopy_right48_ea</c>, 26% of a decode profile); stored this way it is read as it is:
/// 2–3× faster per projection at the bench's size, training neutral within ±4% (docs/performance.md has the figures).
/// Gradients and AdamW's moments follow the parameter's layout (autograd's layout contract), so nothing else changes.
/// </summary>
public static class WeightLayout
{
    /// <summary><c>rows</c> keeps PyTorch's [out, in] storage (to measure the difference); anything else stores [in, out].</summary>
    public const string Variable = "KLEAR_WEIGHT_LAYOUT";

    /// <summary>Whether projections are stored [in, out] in this process (read once, at start).</summary>
    public static bool Transposed { get; } = Environment.GetEnvironmentVariable(Variable) is not "rows";

    /// <summary>The layout's name for reports: "in-out" or "out-in".</summary>
    public static string Name => Transposed ? "in-out" : "out-in";

    /// <summary>A linear layer whose weight [out, in] is stored in this process's layout (biases are vectors: as is).</summary>
    public static Linear Linear(long inFeatures, long outFeatures, bool hasBias)
    {
        var linear = nn.Linear(inFeatures, outFeatures, hasBias: hasBias);
        if (!Transposed) return linear;
        using var noGrad = torch.no_grad();
        var weight = linear.weight!;
        // A tensor of its own with [in, out] strides (not a view of a transposed copy: a parameter that is a view of
        // a no_grad base trips autograd's view checks), holding the same values at the same [out, in] indices.
        var stored = torch.empty_strided(weight.shape, [1, weight.shape[0]], weight.dtype, weight.device);
        stored.copy_(weight);
        linear.weight = new Parameter(stored, requires_grad: weight.requires_grad);
        return linear;
    }

    /// <summary>True when <paramref name="weight"/> [out, in] is stored [in, out] (column-major).</summary>
    public static bool IsTransposed(Tensor weight) =>
        weight.dim() == 2 && weight.stride(0) == 1 && weight.stride(1) == weight.shape[0];
}
