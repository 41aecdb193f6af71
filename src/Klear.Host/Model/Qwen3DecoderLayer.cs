using TorchSharp;
using static TorchSharp.torch;

namespace Klear.Host.Model;

/// <summary>Pre-norm block: x + attn(norm(x)), then h + mlp(norm(h)).</summary>
public sealed class Qwen3DecoderLayer : nn.Module<AttentionInput, Tensor>
{
    readonly RmsNorm _inputLayernorm, _postAttentionLayernorm;
    readonly Qwen3Attention _selfAttn;
    readonly Qwen3Mlp _mlp;

    public Qwen3DecoderLayer(Qwen3Config config) : base(nameof(Qwen3DecoderLayer))
    {
        _selfAttn = new Qwen3Attention(config);
        _mlp = new Qwen3Mlp(config);
        _inputLayernorm = new RmsNorm(config.HiddenSize, config.RmsNormEps);
        _postAttentionLayernorm = new RmsNorm(config.HiddenSize, config.RmsNormEps);
        register_module("self_attn", _selfAttn);
        register_module("mlp", _mlp);
        register_module("input_layernorm", _inputLayernorm);
        register_module("post_attention_layernorm", _postAttentionLayernorm);
    }

    public override Tensor forward(AttentionInput input)
    {
        using var scope = torch.NewDisposeScope();
        var h = input.Hidden + _selfAttn.forward(input with { Hidden = _inputLayernorm.forward(input.Hidden) });
        var output = h + _mlp.forward(_postAttentionLayernorm.forward(h));
        return output.MoveToOuterDisposeScope();
    }
}
