using Klear.Algorithms;
using Klear.Host.Model;
using TorchSharp;
using static TorchSharp.torch;

namespace Klear.Host.Rollout;

/// <summary>
/// Per-token log-probabilities and entropies of given sequences, for the training objectives. The LM head runs on
/// chunks of positions, so no [B, T, V] logits tensor is built, with or without grad: under grad each chunk is
/// recomputed in backward (<see cref="Recompute"/>) rather than kept, so a 151,936-token vocabulary costs one chunk ×
/// V at a time. The log-probs and entropies of each chunk are the loss algebra's (<see cref="Terms.logProbsAndEntropy"/>).
/// </summary>
public static class SequenceScorer
{
    /// <summary>Logits per chunk at most (64 Mi floats, 256 MB): 441 positions at Qwen3's 151,936 tokens, while a small
    /// vocabulary keeps the positions cap.</summary>
    public const long MaxChunkLogits = 1L << 26;

    /// <summary>
    /// For <paramref name="inputIds"/> [B, T]: log p(token t | tokens &lt; t) for t = 1..T-1 as [B, T-1] (differentiable
    /// when grad is enabled) and the entropy of each of those predictive distributions [B, T-1] (a detached diagnostic,
    /// or differentiable with <paramref name="entropyGrad"/> for an entropy bonus).
    /// Logits are divided by <paramref name="temperature"/> to match the sampling policy. Positions whose target is
    /// padding get values too; the caller's response mask removes them. A chunk is <paramref name="chunkTokens"/>
    /// positions, fewer when that many positions' logits would exceed <see cref="MaxChunkLogits"/>.
    /// </summary>
    public static (Tensor LogProbs, Tensor Entropies) Score(Qwen3ForCausalLM model, Tensor inputIds, Tensor? attentionMask = null,
        double temperature = 1.0, long chunkTokens = 2048, bool entropyGrad = false)
    {
        if (inputIds.dim() != 2 || inputIds.shape[1] < 2)
            throw new ArgumentException($"SequenceScorer.Score: inputIds must be [B, T] with T >= 2, got [{string.Join(", ", inputIds.shape)}]", nameof(inputIds));
        if (attentionMask is not null && !attentionMask.shape.SequenceEqual(inputIds.shape))
            throw new ArgumentException($"SequenceScorer.Score: attentionMask [{string.Join(", ", attentionMask.shape)}] differs from inputIds [{string.Join(", ", inputIds.shape)}]", nameof(attentionMask));
        if (!(temperature > 0)) throw new ArgumentException($"SequenceScorer.Score: temperature must be positive, got {temperature}", nameof(temperature));
        if (chunkTokens <= 0) throw new ArgumentException($"SequenceScorer.Score: chunkTokens must be positive, got {chunkTokens}", nameof(chunkTokens));

        long b = inputIds.shape[0], t = inputIds.shape[1];
        using var scope = torch.NewDisposeScope();
        var hidden = model.Hidden(new CausalLMInput(inputIds, attentionMask));                 // [B, T, C]
        var h = hidden.narrow(1, 0, t - 1).reshape(b * (t - 1), hidden.shape[2]);              // [N, C]
        var targets = inputIds.narrow(1, 1, t - 1).reshape(b * (t - 1));                       // [N]
        long n = h.shape[0];
        chunkTokens = Math.Min(chunkTokens, Math.Max(1, MaxChunkLogits / model.Config.VocabSize));
        var use = entropyGrad ? EntropyUse.Bonus : EntropyUse.Diagnostic;
        var logProbs = new List<Tensor>();
        var entropies = new List<Tensor>();
        // A diagnostic entropy carries no graph, so it is handed out beside the function's outputs rather than as one:
        // an output nobody differentiates reaches Recompute's backward as an undefined gradient, which TorchSharp wraps
        // in a handle-less tensor its statistics never release. (Each call, the recomputation in backward included,
        // overwrites it; the forward's value is read right after.)
        Tensor? diagnostic = null;
        Tensor[] Chunk(Tensor?[] x)
        {
            var logits = model.Logits(x[0]!).to_type(ScalarType.Float32) / temperature;           // [n, V]
            var (lp, entropy) = Terms.logProbsAndEntropy(use, logits, x[1]!);
            if (entropyGrad) return [lp, entropy];
            diagnostic = entropy;
            return [lp];
        }
        // With grad, each chunk's logits are recomputed in backward (Recompute) instead of kept for it, so at most one
        // chunk × V of logits and softmax exists at any time, in the forward and in the backward pass.
        bool recompute = torch.is_grad_enabled() && h.requires_grad;
        for (long start = 0; start < n; start += chunkTokens)
        {
            long len = Math.Min(chunkTokens, n - start);
            using var chunkScope = torch.NewDisposeScope();
            var inputs = new[] { h.narrow(0, start, len), targets.narrow(0, start, len) };
            var outputs = recompute ? Recompute.Run(Chunk, inputs) : Chunk(inputs);
            logProbs.Add(outputs[0].MoveToOuterDisposeScope());
            entropies.Add((entropyGrad ? outputs[1] : diagnostic!).MoveToOuterDisposeScope());
        }
        var allLp = torch.cat(logProbs, 0).view(b, t - 1);                                       // [B, T-1]
        var allEnt = torch.cat(entropies, 0).view(b, t - 1);
        return (allLp.MoveToOuterDisposeScope(), allEnt.MoveToOuterDisposeScope());
    }
}
