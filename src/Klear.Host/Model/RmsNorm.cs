using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Klear.Host.Model;

/// <summary>
/// Root-mean-square normalisation with a learned gain (TorchSharp has none). Computed in fp32 and cast back, as in
/// Hugging Face's Qwen3RMSNorm, so bf16 activations give the same result as the reference.
/// </summary>
public sealed class RmsNorm : nn.Module<Tensor, Tensor>
{
    // Named as registered, so Module.to (device or dtype) swaps this field for the moved parameter instead of leaving
    // it on the disposed original.
    [TorchSharp.Utils.ComponentName(Name = "weight")]
    Parameter _weight;
    readonly double _eps;
    readonly long _dim;

    public RmsNorm(long dim, double eps) : base(nameof(RmsNorm))
    {
        _dim = dim;
        _eps = eps;
        _weight = new Parameter(torch.ones(dim));
        register_parameter("weight", _weight);
    }

    public Parameter Weight => _weight;

    public override Tensor forward(Tensor x)
    {
        if (x.shape[^1] != _dim)
            throw new ArgumentException($"RmsNorm: last dimension of [{string.Join(", ", x.shape)}] must be {_dim}", nameof(x));
        using var scope = torch.NewDisposeScope();
        bool widen = x.dtype != ScalarType.Float32;
        var x32 = widen ? x.to_type(ScalarType.Float32) : x;
        var variance = x32.square().mean([-1L], keepdim: true);
        var normed = x32 * variance.add_(_eps).rsqrt_();
        if (widen) normed = normed.to_type(x.dtype);
        return (_weight * normed).MoveToOuterDisposeScope();
    }
}
