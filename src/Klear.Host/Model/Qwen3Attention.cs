using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Klear.Host.Model;

/// <summary>
/// Grouped-query self-attention with per-head RMSNorm on queries and keys (Qwen3's change from Qwen2) and rotary
/// positions. TorchSharp's scaled_dot_product_attention does no GQA expansion, so keys and values are repeated here.
/// </summary>
public sealed class Qwen3Attention : nn.Module<AttentionInput, Tensor>
{
    readonly Linear _qProj, _kProj, _vProj, _oProj;
    readonly RmsNorm _qNorm, _kNorm;
    readonly int _heads, _kvHeads, _headDim;
    readonly long _hidden;

    public Qwen3Attention(Qwen3Config config) : base(nameof(Qwen3Attention))
    {
        _heads = config.NumAttentionHeads;
        _kvHeads = config.NumKeyValueHeads;
        _headDim = config.HeadDim;
        _hidden = config.HiddenSize;
        bool bias = config.AttentionBias;
        _qProj = WeightLayout.Linear(_hidden, _heads * _headDim, bias);
        _kProj = WeightLayout.Linear(_hidden, _kvHeads * _headDim, bias);
        _vProj = WeightLayout.Linear(_hidden, _kvHeads * _headDim, bias);
        _oProj = WeightLayout.Linear(_heads * _headDim, _hidden, bias);
        _qNorm = new RmsNorm(_headDim, config.RmsNormEps);
        _kNorm = new RmsNorm(_headDim, config.RmsNormEps);
        register_module("q_proj", _qProj);
        register_module("k_proj", _kProj);
        register_module("v_proj", _vProj);
        register_module("o_proj", _oProj);
        register_module("q_norm", _qNorm);
        register_module("k_norm", _kNorm);
    }

    public override Tensor forward(AttentionInput input)
    {
        var x = input.Hidden;
        if (x.dim() != 3 || x.shape[2] != _hidden)
            throw new ArgumentException($"Qwen3Attention: hidden must be [B, T, {_hidden}], got [{string.Join(", ", x.shape)}]", nameof(input));
        long b = x.shape[0], t = x.shape[1];
        using var scope = torch.NewDisposeScope();

        var q = _qNorm.forward(_qProj.forward(x).view(b, t, _heads, _headDim)).transpose(1, 2);   // [B, H, T, D]
        var k = _kNorm.forward(_kProj.forward(x).view(b, t, _kvHeads, _headDim)).transpose(1, 2); // [B, Hkv, T, D]
        var v = _vProj.forward(x).view(b, t, _kvHeads, _headDim).transpose(1, 2);                  // [B, Hkv, T, D]
        q = RotaryEmbedding.Apply(q, input.Cos, input.Sin);
        k = RotaryEmbedding.Apply(k, input.Cos, input.Sin);

        if (input.Cache is { } cache) (k, v) = cache.Append(input.LayerIndex, k, v);              // [B, Hkv, Tk, D]
        if (input.Mask is { } mask && (mask.shape[0] != b || mask.shape[2] != t || mask.shape[3] != k.shape[2]))
            throw new ArgumentException($"Qwen3Attention: mask [{string.Join(", ", mask.shape)}] does not match [B={b}, 1, T={t}, Tk={k.shape[2]}]", nameof(input));

        Tensor merged;
        if (t == 1 && _heads != _kvHeads)
        {
            // Decoding: the query heads of a group attend to the same keys, so they ride in the query-length slot
            // instead of copying each group's keys and values rep times (which dominated a decode step).
            var grouped = q.reshape(b, _kvHeads, _heads / _kvHeads, _headDim);                   // [B, Hkv, rep, D]
            var attn = input.Mask is null
                ? nn.functional.scaled_dot_product_attention(grouped, k, v)
                : nn.functional.scaled_dot_product_attention(grouped, k, v, input.Mask);         // [B, Hkv, rep, D]
            merged = attn.reshape(b, 1, _heads * _headDim);                                      // [B, 1, H*D]
        }
        else
        {
            k = RepeatKv(k);                                                                     // [B, H, Tk, D]
            v = RepeatKv(v);
            var attn = input.Mask is null
                ? nn.functional.scaled_dot_product_attention(q, k, v, is_casual: t > 1)
                : nn.functional.scaled_dot_product_attention(q, k, v, input.Mask);               // [B, H, T, D]
            merged = attn.transpose(1, 2).reshape(b, t, _heads * _headDim);                      // [B, T, H*D]
        }
        return _oProj.forward(merged).MoveToOuterDisposeScope();
    }

    Tensor RepeatKv(Tensor kv)
    {
        int rep = _heads / _kvHeads;
        if (rep == 1) return kv;
        long b = kv.shape[0], tk = kv.shape[2];
        return kv.unsqueeze(2).expand(b, _kvHeads, rep, tk, _headDim).reshape(b, _heads, tk, _headDim); // [B, H, Tk, D]
    }
}
