using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Klear.Host.Model;

/// <summary>
/// The policy: Qwen3 decoder plus LM head, parameter names equal to Hugging Face's keys (<c>model.layers.0.mlp.up_proj.weight</c>,
/// <c>lm_head.weight</c>), so checkpoints load key for key. With tied embeddings there is no <c>lm_head.weight</c>.
/// </summary>
public sealed class Qwen3ForCausalLM : nn.Module<CausalLMInput, Tensor>
{
    readonly Qwen3Model _model;
    readonly Linear? _lmHead;

    public Qwen3Config Config { get; }

    public Qwen3ForCausalLM(Qwen3Config config) : base(nameof(Qwen3ForCausalLM))
    {
        config.Validate();
        Config = config;
        _model = new Qwen3Model(config);
        register_module("model", _model);
        if (!config.TieWordEmbeddings)
        {
            _lmHead = WeightLayout.Linear(config.HiddenSize, config.VocabSize, false);
            register_module("lm_head", _lmHead);
        }
    }

    /// <summary>Recompute each decoder layer in backward instead of storing its activations (see <see cref="Qwen3Model.ActivationCheckpointing"/>).</summary>
    public bool ActivationCheckpointing
    {
        get => _model.ActivationCheckpointing;
        set => _model.ActivationCheckpointing = value;
    }

    /// <summary>Where the weights live (the model's <c>.to(device)</c> moves them; inputs must be there too).</summary>
    public Device Device => _model.Device;

    /// <summary>The weights' element type: fp32 for training, bf16 for a generation copy (<see cref="CopyAs"/>).</summary>
    public ScalarType Dtype => _model.Dtype;

    /// <summary>A new model with this one's weights converted to <paramref name="dtype"/> on the same device, e.g. a bf16
    /// copy to sample from (the rotary frequencies stay fp32); it needs no gradients.</summary>
    public Qwen3ForCausalLM CopyAs(ScalarType dtype)
    {
        // Built in the target type (not fp32 then converted): a bf16 copy of a 0.6B model would otherwise hold a
        // transient 2.4 GB fp32 one. The default dtype is process-global, so it is restored at once.
        var saved = torch.get_default_dtype();
        Qwen3ForCausalLM copy;
        torch.set_default_dtype(dtype);
        try { copy = new Qwen3ForCausalLM(Config); }
        finally { torch.set_default_dtype(saved); }
        copy.to(dtype).to(Device);
        copy.CopyWeightsFrom(this);
        foreach (var p in copy.parameters()) p.requires_grad = false;
        copy.eval();
        return copy;
    }

    /// <summary>Copies (and converts) every parameter of <paramref name="source"/>, a model of the same config.</summary>
    public void CopyWeightsFrom(Qwen3ForCausalLM source)
    {
        using var noGrad = torch.no_grad();
        foreach (var ((name, dst), (_, src)) in named_parameters().Zip(source.named_parameters()))
            dst.copy_(src);
    }

    /// <summary>The output projection [V, C]: the embedding matrix when tied.</summary>
    public Tensor LmHeadWeight => _lmHead?.weight ?? _model.EmbedTokens.weight!;

    /// <summary>Final-normed hidden states [B, T, C]; pair with <see cref="Logits"/> to project only some positions.</summary>
    public Tensor Hidden(CausalLMInput input) => _model.forward(input);

    /// <summary>Vocabulary logits [..., V] of hidden states [..., C].</summary>
    public Tensor Logits(Tensor hidden)
    {
        if (hidden.dim() < 1 || hidden.shape[^1] != Config.HiddenSize)
            throw new ArgumentException($"Qwen3ForCausalLM.Logits: last dimension of [{string.Join(", ", hidden.shape)}] must be hidden_size {Config.HiddenSize}", nameof(hidden));
        return nn.functional.linear(hidden, LmHeadWeight);
    }

    /// <summary>Logits [B, T, V].</summary>
    public override Tensor forward(CausalLMInput input)
    {
        using var scope = torch.NewDisposeScope();
        return Logits(Hidden(input)).MoveToOuterDisposeScope();
    }

    /// <summary>
    /// Hugging Face's initialisation: normal(0, initializer_range) for linear and embedding weights, zero biases, unit
    /// norm gains; drawn from its own generator so a seed gives the same model whatever else used the global RNG.
    /// </summary>
    public Qwen3ForCausalLM InitializeWeights(long seed)
    {
        var generator = new torch.Generator((ulong)seed);
        using var noGrad = torch.no_grad();
        foreach (var (name, p) in named_parameters())
        {
            if (name.EndsWith("norm.weight", StringComparison.Ordinal)) p.fill_(1.0);
            else if (name.EndsWith(".bias", StringComparison.Ordinal)) p.zero_();
            else if (p.is_contiguous()) p.normal_(0.0, Config.InitializerRange, generator);
            else
            {
                // Drawn in [out, in] order whatever the storage (WeightLayout), so a seed gives the same model in both.
                using var drawn = torch.empty(p.shape, p.dtype, p.device).normal_(0.0, Config.InitializerRange, generator);
                p.copy_(drawn);
            }
        }
        return this;
    }
}
