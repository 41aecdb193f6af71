using static TorchSharp.torch;

namespace Klear.Host.Model;

/// <summary>
/// What one decoder layer (and its attention) needs besides the hidden states: the rotary cos/sin for the new positions,
/// the additive attention mask, and the cache to extend.
/// </summary>
/// <param name="Hidden">[B, T, C]</param>
/// <param name="Cos">[B, 1, T, D]</param>
/// <param name="Sin">[B, 1, T, D], first half negated (see <see cref="RotaryEmbedding.Apply"/>)</param>
/// <param name="Mask">Additive [B, 1, T, Tk] (0 where visible); null means plain causal attention over T keys.</param>
/// <param name="Cache">Keys/values of earlier positions, extended in place; null when there is no history.</param>
/// <param name="LayerIndex">Which layer's slot of the cache to use.</param>
public sealed record AttentionInput(Tensor Hidden, Tensor Cos, Tensor Sin, Tensor? Mask, KvCache? Cache, int LayerIndex);
