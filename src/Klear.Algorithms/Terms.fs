namespace Klear.Algorithms

open TorchSharp

/// KL estimators of KL(π‖π_ref) per token from log-probs (Schulman 2020, "Approximating KL divergence").
type KlEstimator =
    /// logp - ref: unbiased, high variance, can be negative.
    | K1
    /// ½(logp - ref)²: low variance, biased.
    | K2
    /// exp(ref - logp) - (ref - logp) - 1: unbiased and non-negative.
    | K3

/// The per-token auxiliary terms: NLL (the SFT term), KL to a reference policy, entropy.
module Terms =
    let nll (logp: Tensor) = -logp

    let kl (estimator: KlEstimator) (logp: Tensor) (refLogp: Tensor) =
        Tensors.requireSameShape "logp" logp "refLogp" refLogp
        let d = logp - refLogp
        match estimator with
        | K1 -> d
        | K2 -> d * d * Tensors.scalar 0.5
        | K3 -> (-d).exp () + d - Tensors.scalar 1.0

    /// Entropy of the categorical over the last axis, from logits [..., V] -> [...]; differentiable.
    let entropyFromLogits (logits: Tensor) =
        let logProbs = logits.log_softmax (-1L)
        -(logProbs.exp () * logProbs).sum (-1L)

    /// Per-token log-probs of the chosen tokens: logits [B, T, V], tokens [B, T] (int64) -> [B, T].
    let logProbsOf (logits: Tensor) (tokens: Tensor) =
        Tensors.requireRank "logits" 3 logits
        Tensors.requireRank "tokens" 2 tokens
        if logits.shape[0] <> tokens.shape[0] || logits.shape[1] <> tokens.shape[1] then
            invalidArg "tokens" $"tokens has shape {Tensors.shapeText tokens} but logits has shape {Tensors.shapeText logits}"
        logits.log_softmax(-1L).gather(-1L, tokens.unsqueeze (-1L)).squeeze (-1L)
