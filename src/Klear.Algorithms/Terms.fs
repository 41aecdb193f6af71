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
    /// k3's value with k2's gradient (verl's straight-through `k3+`): k2 - sg(k2) + sg(k3). k2's gradient
    /// (logp - ref)·∇logp is the unbiased gradient of KL(π‖π_ref); k3's is not.
    | K3Plus

/// What the entropy of the policy is for: a term of the loss (it keeps its gradient) or a logged diagnostic.
type EntropyUse =
    | Bonus
    | Diagnostic

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
        | K3Plus ->
            let k2 = d * d * Tensors.scalar 0.5
            let k3 = (-d).exp () + d - Tensors.scalar 1.0
            k2 - Tensors.sg k2 + Tensors.sg k3

    /// The SFT loss: NLL token-mean over the tokens `mask` selects (the same per-token NLL and aggregation as
    /// `Loss.sftOnCorrect`, here for a trainer with no policy batch).
    let nllTokenMean (mask: Tensor) (logp: Tensor) =
        Aggregation.apply TokenMean (Aggregation.normaliserOf mask) mask (nll logp)

    /// Log-probs and entropies read logits [..., V] at tokens [...]; anything else is a caller's mix-up.
    let private requireTokensFor (logits: Tensor) (tokens: Tensor) =
        if logits.dim () < 2L || tokens.shape <> logits.shape[.. logits.shape.Length - 2] then
            invalidArg "tokens" (
                $"tokens has shape {Tensors.shapeText tokens} but logits has shape {Tensors.shapeText logits}; "
                + "tokens must be the logits' shape without the last axis")

    // log p = logit - logsumexp and H = logsumexp - E_p[logit]: no log-softmax copy of the vocabulary is made,
    // and one logsumexp serves both.
    let private chosen (logits: Tensor) (tokens: Tensor) (lse: Tensor) =
        logits.gather(-1L, tokens.unsqueeze(-1L)).squeeze(-1L) - lse

    let private entropyWith (logits: Tensor) (lse: Tensor) = lse - (logits.softmax(-1L) * logits).sum(-1L)

    /// Entropy of the categorical over the last axis, from logits [..., V] -> [...]; differentiable.
    let entropyFromLogits (logits: Tensor) = entropyWith logits (logits.logsumexp(-1L))

    /// Log-probs of the chosen tokens: logits [..., V], tokens [...] (int64) -> [...].
    let logProbsOf (logits: Tensor) (tokens: Tensor) =
        requireTokensFor logits tokens
        chosen logits tokens (logits.logsumexp(-1L))

    /// `logProbsOf` and the entropies from one logsumexp. Under `Diagnostic` the entropies carry no graph, so
    /// backward keeps no [..., V] softmax alive for them.
    let logProbsAndEntropy (entropyUse: EntropyUse) (logits: Tensor) (tokens: Tensor) =
        requireTokensFor logits tokens
        let lse = logits.logsumexp(-1L)
        // Log-probs first: the order the graph is built in is the order backward adds up gradients.
        let logp = chosen logits tokens lse
        let entropy =
            match entropyUse with
            | Bonus -> entropyWith logits lse
            | Diagnostic ->
                use _noGrad = torch.no_grad ()
                entropyWith (logits.detach ()) (lse.detach ())
        struct (logp, entropy)
