using static TorchSharp.torch;

namespace Klear.Host.Model;

/// <summary>One forward pass of the causal LM.</summary>
/// <param name="InputIds">[B, T] int64 token ids (the new tokens only when a cache holds the earlier ones).</param>
/// <param name="AttentionMask">[B, past + T], 1 for real tokens and 0 for (left) padding; null when nothing is padded.</param>
/// <param name="PositionIds">[B, T]; by default counted over real tokens only, so left padding does not shift them.</param>
/// <param name="Cache">History to attend to and extend; null for a full pass.</param>
public sealed record CausalLMInput(Tensor InputIds, Tensor? AttentionMask = null, Tensor? PositionIds = null, KvCache? Cache = null);
