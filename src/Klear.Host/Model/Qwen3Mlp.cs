using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Klear.Host.Model;

/// <summary>SwiGLU feed-forward: down(silu(gate(x)) * up(x)), no biases.</summary>
public sealed class Qwen3Mlp : nn.Module<Tensor, Tensor>
{
    readonly Linear _gateProj, _upProj, _downProj;
    readonly long _hidden;

    public Qwen3Mlp(Qwen3Config config) : base(nameof(Qwen3Mlp))
    {
        _hidden = config.HiddenSize;
        _gateProj = WeightLayout.Linear(config.HiddenSize, config.IntermediateSize, false);
        _upProj = WeightLayout.Linear(config.HiddenSize, config.IntermediateSize, false);
        _downProj = WeightLayout.Linear(config.IntermediateSize, config.HiddenSize, false);
        register_module("gate_proj", _gateProj);
        register_module("up_proj", _upProj);
        register_module("down_proj", _downProj);
    }

    public override Tensor forward(Tensor x)
    {
        // A mismatched matmul terminates the process in libtorch instead of throwing, so check first.
        if (x.dim() < 1 || x.shape[^1] != _hidden)
            throw new ArgumentException($"Qwen3Mlp: last dimension of [{string.Join(", ", x.shape)}] must be {_hidden}", nameof(x));
        using var scope = torch.NewDisposeScope();
        var gated = nn.functional.silu(_gateProj.forward(x)) * _upProj.forward(x); // [B, T, I]
        return _downProj.forward(gated).MoveToOuterDisposeScope();
    }
}
