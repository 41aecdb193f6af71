using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Klear.Host.Model;

/// <summary>The decoder stack without the LM head (HF's <c>Qwen3Model</c>, the <c>model.</c> prefix of the keys).</summary>
public sealed class Qwen3Model : nn.Module<CausalLMInput, Tensor>
{
    /// <summary>
    /// Masked scores get this instead of -inf: a fully padded query row then softmaxes to a harmless uniform row
    /// instead of NaN (the quickstart calibration hit exactly that with -inf).
    /// </summary>
    public const float MaskedScore = -1e9f;

    readonly Embedding _embedTokens;
    readonly ModuleList<Qwen3DecoderLayer> _layers;
    readonly RmsNorm _norm;
    readonly RotaryEmbedding _rotary;
    readonly Qwen3Config _config;

    public Qwen3Model(Qwen3Config config) : base(nameof(Qwen3Model))
    {
        _config = config;
        _embedTokens = nn.Embedding(config.VocabSize, config.HiddenSize);
        _layers = nn.ModuleList(Enumerable.Range(0, config.NumHiddenLayers).Select(_ => new Qwen3DecoderLayer(config)).ToArray());
        _norm = new RmsNorm(config.HiddenSize, config.RmsNormEps);
        _rotary = new RotaryEmbedding(config);
        register_module("embed_tokens", _embedTokens);
        register_module("layers", _layers);
        register_module("norm", _norm);
        register_module("rotary_emb", _rotary);
    }

    public Embedding EmbedTokens => _embedTokens;

    /// <summary>Where the weights live; every tensor the model makes itself (positions, masks) is made there.</summary>
    public Device Device
    {
        get
        {
            using var weight = _embedTokens.weight!;   // each read of a native module's weight is a new handle
            return weight.device;
        }
    }

    /// <summary>The weights' element type.</summary>
    public ScalarType Dtype
    {
        get
        {
            using var weight = _embedTokens.weight!;
            return weight.dtype;
        }
    }

    /// <summary>Final-normed hidden states [B, T, C].</summary>
    public override Tensor forward(CausalLMInput input)
    {
        var ids = input.InputIds;
        if (ids.dim() != 2)
            throw new ArgumentException($"Qwen3Model: InputIds must be [B, T], got [{string.Join(", ", ids.shape)}]", nameof(input));
        long b = ids.shape[0], t = ids.shape[1];
        int past = input.Cache?.Length ?? 0;
        if (input.Cache is { } c && c.Batch != b)
            throw new ArgumentException($"Qwen3Model: cache batch {c.Batch} differs from InputIds batch {b}", nameof(input));
        if (input.AttentionMask is { } am && (am.dim() != 2 || am.shape[0] != b || am.shape[1] != past + t))
            throw new ArgumentException($"Qwen3Model: AttentionMask [{string.Join(", ", am.shape)}] must be [B={b}, past+T={past + t}]", nameof(input));
        if (input.PositionIds is { } pi && !pi.shape.SequenceEqual(ids.shape))
            throw new ArgumentException($"Qwen3Model: PositionIds [{string.Join(", ", pi.shape)}] differ from InputIds [{string.Join(", ", ids.shape)}]", nameof(input));

        using var scope = torch.NewDisposeScope();
        var positions = input.PositionIds ?? DefaultPositions(input.AttentionMask, b, t, past);
        var (cos, sin) = _rotary.forward(positions);
        var dtype = _embedTokens.weight!.dtype;
        // fp32 frequencies, rotated in the activations' type (as transformers does for a bf16 model).
        if (cos.dtype != dtype) (cos, sin) = (cos.to_type(dtype), sin.to_type(dtype));
        var mask = BuildMask(input.AttentionMask, b, t, past);
        var h = _embedTokens.forward(ids); // [B, T, C]
        for (int i = 0; i < _layers.Count; i++)
            h = Checkpointed(h, input.Cache) ? CheckpointedLayer(i, h, cos, sin, mask)
                : _layers[i].forward(new AttentionInput(h, cos, sin, mask, input.Cache, i));
        return _norm.forward(h).MoveToOuterDisposeScope();
    }

    /// <summary>
    /// Recompute each decoder layer in backward instead of keeping its activations (<see cref="Recompute"/>): a training
    /// forward then holds one [B, T, C] input per layer plus one layer's activations, for about a third more compute.
    /// Off by default; the trainers set it from <c>actor.activation_checkpointing</c>.
    /// </summary>
    public bool ActivationCheckpointing { get; set; }

    /// <summary>Only a training pass checkpoints: with grad on, no cache (decoding keeps no graph anyway), and an input
    /// that carries a graph (otherwise the recomputation would never be asked for and the layer's parameters would get
    /// no gradient).</summary>
    bool Checkpointed(Tensor h, KvCache? cache) => ActivationCheckpointing && cache is null && torch.is_grad_enabled() && h.requires_grad;

    Tensor CheckpointedLayer(int index, Tensor h, Tensor cos, Tensor sin, Tensor? mask)
    {
        var layer = _layers[index];
        return Recompute.Run(x => [layer.forward(new AttentionInput(x[0]!, x[1]!, x[2]!, x[3], null, index))], h, cos, sin, mask)[0];
    }

    Tensor DefaultPositions(Tensor? attentionMask, long b, long t, int past)
    {
        if (attentionMask is null) return torch.arange(past, past + t, dtype: ScalarType.Int64, device: Device).unsqueeze(0).expand(b, t);
        var counted = (attentionMask.to_type(ScalarType.Int64).cumsum(1) - 1).clamp_min(0); // [B, past + T]
        return counted.narrow(1, past, t);                                                   // [B, T]
    }

    /// <summary>
    /// Additive mask [B, 1, T, past + T], or null when SDPA's own causal flag (or no mask at all) is exact: no padding,
    /// and either no history or a single new token. With history and T &gt; 1 the flag would align the triangle to the
    /// top-left, so the mask is built.
    /// </summary>
    Tensor? BuildMask(Tensor? attentionMask, long b, long t, int past)
    {
        if (attentionMask is null && (past == 0 || t == 1)) return null;
        long tk = past + t;
        var dtype = _embedTokens.weight!.dtype;
        if (t == 1)                                                                          // one new token sees every kept key
            return torch.zeros([b, 1, 1, tk], dtype: dtype, device: Device).masked_fill(attentionMask!.eq(0).view(b, 1, 1, tk), MaskedScore);
        var keyPos = torch.arange(tk, dtype: ScalarType.Int64, device: Device).unsqueeze(0);             // [1, Tk]
        var queryPos = torch.arange(past, tk, dtype: ScalarType.Int64, device: Device).unsqueeze(1);     // [T, 1]
        var visible = keyPos.le(queryPos).unsqueeze(0).unsqueeze(0);                     // [1, 1, T, Tk]
        if (attentionMask is not null)
            visible = visible.logical_and(attentionMask.ne(0).view(b, 1, 1, tk));        // [B, 1, T, Tk]
        var zeros = torch.zeros([b, 1, t, tk], dtype: dtype, device: Device);
        return zeros.masked_fill(visible.logical_not(), MaskedScore);
    }
}
