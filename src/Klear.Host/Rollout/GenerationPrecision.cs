using Klear.Host.Configuration;
using Klear.Host.Model;
using static TorchSharp.torch;

namespace Klear.Host.Rollout;

/// <summary>
/// The element type generation runs in (<c>rollout.dtype</c>, <c>eval.dtype</c>): fp32, the policy itself, or bf16, a
/// copy made for the occasion whose weights and KV cache take half the bytes. On a CPU with AVX512-BF16 a bf16 matmul
/// ran 3–5× faster than fp32 (README, "Memory at Qwen3-0.6B size"). The trainer's own log-probs stay fp32; the
/// sampler's come from the copy, which is what the rollout correction compares.
/// </summary>
public static class GenerationPrecision
{
    public static readonly IReadOnlyList<string> Names = ["fp32", "bf16"];

    /// <summary>The element type named by <paramref name="name"/>; any other name fails naming <paramref name="key"/>.</summary>
    public static ScalarType Parse(string key, string name) => name switch
    {
        "fp32" => ScalarType.Float32,
        "bf16" => ScalarType.BFloat16,
        _ => throw ConfigException.UnknownName(key, name, Names),
    };

    /// <summary>A copy of <paramref name="policy"/> in <paramref name="dtype"/> to sample from, or null when the policy
    /// already is one (then sample from it). The caller disposes the copy.</summary>
    public static Qwen3ForCausalLM? CopyFor(Qwen3ForCausalLM policy, ScalarType dtype) =>
        policy.Dtype == dtype ? null : policy.CopyAs(dtype);
}
