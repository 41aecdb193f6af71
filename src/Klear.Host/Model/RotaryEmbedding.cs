using TorchSharp;
using static TorchSharp.torch;

namespace Klear.Host.Model;

/// <summary>
/// Rotary position embeddings in Hugging Face's "rotate half" layout (the first and second halves of each head form the
/// pairs), with plain or YaRN inverse frequencies. TorchSharp has no rotary module.
/// </summary>
public sealed class RotaryEmbedding : nn.Module<Tensor, (Tensor Cos, Tensor Sin)>
{
    // Not a registered buffer: TorchSharp 0.107's Module.to skips non-persistent buffers (named_buffers drops them), so
    // a registered one stayed on the CPU when the model moved. Kept fp32 on whatever device the positions are, made
    // once per device: bf16 frequencies (8 mantissa bits) would misplace long positions by whole radians, and HF
    // checkpoints carry no inv_freq anyway (it follows from config.json).
    readonly float[] _invFreqValues;
    Tensor? _invFreq;

    /// <summary>YaRN scales cos and sin (the attention temperature correction); 1 for plain RoPE.</summary>
    public double AttentionScaling { get; }

    public RotaryEmbedding(Qwen3Config config) : base(nameof(RotaryEmbedding))
    {
        var (invFreq, scaling) = Frequencies(config);
        AttentionScaling = scaling;
        _invFreqValues = invFreq.Select(f => (float)f).ToArray();
    }

    /// <summary>The fp32 inverse frequencies [D/2] on <paramref name="device"/>.</summary>
    Tensor InvFreqOn(Device device)
    {
        if (_invFreq is null || _invFreq.device_type != device.type || _invFreq.device_index != device.index)
        {
            _invFreq?.Dispose();
            _invFreq = torch.tensor(_invFreqValues, device: device).DetachFromDisposeScope();
        }
        return _invFreq;
    }

    protected override void Dispose(bool disposing)
    {
        if (disposing) _invFreq?.Dispose();
        base.Dispose(disposing);
    }

    /// <summary>
    /// Inverse frequencies (head_dim / 2 of them) and the cos/sin scaling. Plain: theta^(-2i/d). YaRN (Peng et al. 2023,
    /// as in transformers' <c>_compute_yarn_parameters</c>): a linear ramp between the interpolated (divided by factor)
    /// and the original frequency over the dimensions whose wavelength falls between beta_fast and beta_slow rotations
    /// of the original context. The explicit <c>factor</c> wins over max_position_embeddings / original, as in current
    /// transformers.
    /// </summary>
    public static (double[] InvFreq, double AttentionScaling) Frequencies(Qwen3Config config)
    {
        int dim = config.HeadDim;
        double theta = config.RopeTheta;
        var plain = Enumerable.Range(0, dim / 2).Select(i => 1.0 / Math.Pow(theta, 2.0 * i / dim)).ToArray();
        if (config.RopeScaling is not { Kind: "yarn" } rs) return (plain, 1.0);

        double factor = rs.Factor!.Value;
        double original = rs.OriginalMaxPositionEmbeddings ?? config.MaxPositionEmbeddings;
        double betaFast = rs.BetaFast ?? 32, betaSlow = rs.BetaSlow ?? 1;
        // The dimension index at which a frequency completes `rotations` turns over the original context.
        double CorrectionDim(double rotations) =>
            dim * Math.Log(original / (rotations * 2 * Math.PI)) / (2 * Math.Log(theta));
        double low = Math.Max(Math.Floor(CorrectionDim(betaFast)), 0);
        double high = Math.Min(Math.Ceiling(CorrectionDim(betaSlow)), dim - 1);
        if (low == high) high += 0.001;

        var invFreq = new double[dim / 2];
        for (int i = 0; i < dim / 2; i++)
        {
            double ramp = Math.Clamp((i - low) / (high - low), 0, 1);
            double extrapolation = 1 - ramp;
            invFreq[i] = plain[i] / factor * (1 - extrapolation) + plain[i] * extrapolation;
        }
        double scaling = rs.AttentionFactor ?? (factor <= 1 ? 1.0 : 0.1 * Math.Log(factor) + 1.0);
        return (invFreq, scaling);
    }

    /// <summary>
    /// cos and sin for positions <paramref name="positionIds"/> [B, T], each [B, 1, T, head_dim]. The sin comes with the
    /// first half negated, so <see cref="Apply"/> can rotate with one roll instead of slicing, negating and concatenating.
    /// </summary>
    public override (Tensor Cos, Tensor Sin) forward(Tensor positionIds)
    {
        if (positionIds.dim() != 2)
            throw new ArgumentException($"RotaryEmbedding: positionIds must be [B, T], got [{string.Join(", ", positionIds.shape)}]", nameof(positionIds));
        using var scope = torch.NewDisposeScope();
        var freqs = positionIds.to_type(ScalarType.Float32).unsqueeze(-1) * InvFreqOn(positionIds.device); // [B, T, D/2]
        var emb = torch.cat([freqs, freqs], -1).unsqueeze(1);                       // [B, 1, T, D]
        var cos = emb.cos() * AttentionScaling;
        var half = freqs.sin() * AttentionScaling;                                   // [B, T, D/2]
        var sin = torch.cat([-half, half], -1).unsqueeze(1);                         // [B, 1, T, D], first half negated
        return (cos.MoveToOuterDisposeScope(), sin.MoveToOuterDisposeScope());
    }

    /// <summary>
    /// x * cos + rotate_half(x) * sin with rotate_half(x) = [-x2, x1] over the head dimension halves, computed as
    /// x * cos + roll(x, D/2) * signedSin where <paramref name="signedSin"/> = [-sin, sin] comes from <see cref="forward"/>.
    /// </summary>
    public static Tensor Apply(Tensor x, Tensor cos, Tensor signedSin)
    {
        using var scope = torch.NewDisposeScope();
        var rolled = x.roll(x.shape[^1] / 2, -1);                                   // [x2, x1]
        return (x * cos + rolled * signedSin).MoveToOuterDisposeScope();
    }
}
