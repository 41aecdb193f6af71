using Klear.Host.Model;
using TorchSharp;
using static TorchSharp.torch;

namespace Klear.Host.Rollout;

/// <summary>
/// Batched generation from the policy: prompts of different lengths are left-padded so every row's next token sits in
/// the last column, then one token per row per step, with a <see cref="KvCache"/> (or full recomputation, which the
/// tests and the benchmark compare against). Rows that hit a stop token leave the batch, so the remaining steps compute
/// only the live rows.
/// </summary>
public sealed class Sampler(Qwen3ForCausalLM model)
{
    /// <param name="dropFinished">
    /// Remove finished rows from the batch (the default). Off only to check that dropping them changes nothing.
    /// </param>
    public GenerationResult Generate(IReadOnlyList<int[]> prompts, SamplingOptions options, IReadOnlyList<long>? seeds = null,
        bool useKvCache = true, bool dropFinished = true)
    {
        options.Validate();
        if (prompts.Count == 0) throw new ArgumentException("Sampler.Generate: no prompts", nameof(prompts));
        if (seeds is not null && seeds.Count != prompts.Count)
            throw new ArgumentException($"Sampler.Generate: {seeds.Count} seeds for {prompts.Count} prompts", nameof(seeds));
        int vocab = model.Config.VocabSize;
        for (int i = 0; i < prompts.Count; i++)
        {
            if (prompts[i].Length == 0) throw new ArgumentException($"Sampler.Generate: prompt {i} is empty", nameof(prompts));
            if (prompts[i].Any(t => t < 0 || t >= vocab)) throw new ArgumentException($"Sampler.Generate: prompt {i} has a token outside [0, {vocab})", nameof(prompts));
        }

        int b = prompts.Count, p = prompts.Max(x => x.Length), maxNew = options.MaxNewTokens, total = p + maxNew;
        var stop = options.StopTokenIds.ToHashSet();
        var tokens = Enumerable.Range(0, b).Select(_ => new List<int>()).ToArray();
        var logProbs = Enumerable.Range(0, b).Select(_ => new List<float>()).ToArray();
        var finished = new bool[b];
        var rows = Enumerable.Range(0, b).ToArray();                    // batch row -> request, shrinks as rows finish

        using var noGrad = torch.no_grad();
        using var scope = torch.NewDisposeScope();
        var device = model.Device;
        var (ids, mask) = LeftPad(prompts, options.PadTokenId, total, device);                   // [B, P + N] each
        // Generated tokens are never padding, so without padded prompts the mask is all ones: passing none lets the
        // model skip building an additive mask and counting positions over the whole history at every step.
        Tensor? attentionMask = prompts.Any(x => x.Length != p) ? mask : null;
        // Position of the token fed at step s >= 1 (generated at step s - 1): its prompt's length + s - 1. Kept here
        // so decoding with padding does not recount the mask (a cumsum over the history) at every step.
        var positions = torch.tensor(prompts.Select(x => (long)x.Length - 1).ToArray(), device: device).unsqueeze(1); // [B, 1]
        var uniforms = Uniforms(b, maxNew, seeds ?? Enumerable.Range(0, b).Select(i => options.Seed + i).ToList()).to(device);
        // The cache lives with the model and in its element type (half the bytes for a bf16 generation copy).
        using var cache = useKvCache
            ? new KvCache(model.Config.NumHiddenLayers, b, model.Config.NumKeyValueHeads, model.Config.HeadDim, total, model.Dtype, device)
            : null;

        for (int step = 0; step < maxNew; step++)
        {
            using var stepScope = torch.NewDisposeScope();
            int length = p + step;
            bool decoding = cache is not null && step > 0;
            if (decoding) positions.add_(1);
            var input = decoding ? ids.narrow(1, length - 1, 1) : ids.narrow(1, 0, length);
            var hidden = model.Hidden(new CausalLMInput(input, attentionMask?.narrow(1, 0, length),
                PositionIds: decoding && attentionMask is not null ? positions : null, Cache: cache)); // [B, T, C]
            var logits = model.Logits(hidden.select(1, -1));                                           // [B, V]
            var (next, nextLogProbs) = SampleNext(logits, options, uniforms.select(1, step));
            ids.select(1, length).copy_(next);

            // The one host transfer of a step: the drawn tokens decide which rows stop.
            var nextIds = next.cpu().data<long>().ToArray();
            var nextLp = nextLogProbs.cpu().data<float>().ToArray();
            var live = new List<long>(rows.Length);
            for (int i = 0; i < rows.Length; i++)
            {
                int r = rows[i];
                if (finished[r]) continue;
                tokens[r].Add((int)nextIds[i]);
                logProbs[r].Add(nextLp[i]);
                finished[r] = stop.Contains((int)nextIds[i]);
                if (!finished[r]) live.Add(i);
            }
            if (live.Count == 0) break;
            if (dropFinished && live.Count < rows.Length && step + 1 < maxNew)
            {
                // Every per-row state is indexed by batch row, so selecting the live rows everywhere keeps each
                // request's history, cache and uniforms its own: what it draws next does not change.
                using var keep = torch.tensor(live.ToArray(), device: device);
                ids = Replace(ids, ids.index_select(0, keep));
                if (attentionMask is not null) attentionMask = Replace(attentionMask, attentionMask.index_select(0, keep));
                positions = Replace(positions, positions.index_select(0, keep));
                uniforms = Replace(uniforms, uniforms.index_select(0, keep));
                cache?.KeepRows(keep);
                rows = live.Select(i => rows[(int)i]).ToArray();
            }
        }
        return new GenerationResult(tokens.Select(t => t.ToArray()).ToArray(), finished, logProbs.Select(l => l.ToArray()).ToArray());
    }

    /// <summary>
    /// Frees <paramref name="old"/> now and moves its replacement out of the step scope into the enclosing one,
    /// so a long generation keeps one copy of each per-row tensor.
    /// </summary>
    static Tensor Replace(Tensor old, Tensor replacement)
    {
        old.Dispose();
        return replacement.MoveToOuterDisposeScope();
    }

    /// <summary>
    /// Draws one token per row of <paramref name="logits"/> [B, V] by inverting the CDF of the renormalised
    /// temperature/top-k/top-p distribution at <paramref name="uniforms"/> [B] in [0, 1); returns tokens [B] (int64)
    /// and their log-probabilities [B] under that distribution. Taking the uniforms as input keeps each request's
    /// randomness its own, independent of which other requests share the batch.
    /// </summary>
    public static (Tensor Tokens, Tensor LogProbs) SampleNext(Tensor logits, SamplingOptions options, Tensor uniforms)
    {
        if (logits.dim() != 2 || uniforms.dim() != 1 || uniforms.shape[0] != logits.shape[0])
            throw new ArgumentException($"Sampler.SampleNext: logits [{string.Join(", ", logits.shape)}] must be [B, V] and uniforms [{string.Join(", ", uniforms.shape)}] [B]", nameof(logits));
        using var scope = torch.NewDisposeScope();
        var x = logits.to_type(ScalarType.Float32);
        if (options.Temperature == 0)
        {
            var greedy = x.argmax(-1, keepdim: true);                                                // [B, 1]
            var lp = x.log_softmax(-1).gather(1, greedy).squeeze(1);
            return (greedy.squeeze(1).MoveToOuterDisposeScope(), lp.MoveToOuterDisposeScope());
        }

        long v = x.shape[1];
        var scaled = options.Temperature == 1 ? x : x / options.Temperature;                        // x / 1 is x: skip the op
        if (options.TopK == 0 && options.TopP >= 1)
        {
            // Nothing to truncate: invert the CDF in vocabulary order and skip the sort.
            var lps = scaled.log_softmax(-1);                                                        // [B, V]
            var c = lps.exp().cumsum(-1);
            var u = uniforms.to_type(ScalarType.Float32).unsqueeze(1) * c.narrow(1, v - 1, 1);
            var drawn = c.lt(u).sum(-1, keepdim: true, type: ScalarType.Int64).clamp_max(v - 1);
            return (drawn.squeeze(1).MoveToOuterDisposeScope(), lps.gather(1, drawn).squeeze(1).MoveToOuterDisposeScope());
        }
        var (sorted, order) = scaled.sort(-1, descending: true);                  // [B, V] each
        var rank = torch.arange(v, dtype: ScalarType.Int64, device: logits.device).unsqueeze(0);   // [1, V]
        if (options.TopK > 0 && options.TopK < v)
            sorted = sorted.masked_fill(rank.ge(options.TopK), float.NegativeInfinity);
        if (options.TopP < 1)
        {
            var probs = sorted.softmax(-1);
            // Drop a token when the tokens ranked above it already reach TopP; the top token always stays.
            var before = probs.cumsum(-1) - probs;
            sorted = sorted.masked_fill(before.ge(options.TopP).logical_and(rank.gt(0)), float.NegativeInfinity);
        }
        var logProbs = sorted.log_softmax(-1);                                                       // [B, V]
        var cdf = logProbs.exp().cumsum(-1);                                                         // [B, V]
        var target = uniforms.to_type(ScalarType.Float32).unsqueeze(1) * cdf.narrow(1, v - 1, 1);  // [B, 1]
        var kept = sorted.isfinite().sum(-1, keepdim: true, type: ScalarType.Int64);                // [B, 1]
        var pick = cdf.lt(target).sum(-1, keepdim: true, type: ScalarType.Int64).minimum(kept - 1); // [B, 1]
        var tokens = order.gather(1, pick).squeeze(1);
        var chosen = logProbs.gather(1, pick).squeeze(1);
        return (tokens.MoveToOuterDisposeScope(), chosen.MoveToOuterDisposeScope());
    }

    static (Tensor Ids, Tensor Mask) LeftPad(IReadOnlyList<int[]> prompts, int pad, int total, Device device)
    {
        int b = prompts.Count, p = prompts.Max(x => x.Length);
        var ids = new long[b * total];
        var mask = new long[b * total];
        for (int i = 0; i < b; i++)
        {
            int offset = p - prompts[i].Length;
            for (int j = 0; j < total; j++) ids[i * total + j] = pad;
            for (int j = 0; j < prompts[i].Length; j++) ids[i * total + offset + j] = prompts[i][j];
            // Real from the prompt's first token on: the columns after P will hold generated tokens.
            for (int j = offset; j < total; j++) mask[i * total + j] = 1;
        }
        return (torch.tensor(ids, [b, total], device: device), torch.tensor(mask, [b, total], device: device));
    }

    static Tensor Uniforms(int b, int steps, IReadOnlyList<long> seeds)
    {
        var rows = new Tensor[b];
        for (int i = 0; i < b; i++)
        {
            using var generator = new torch.Generator(unchecked((ulong)seeds[i]));
            rows[i] = torch.rand(steps, generator: generator);
        }
        return torch.stack(rows);                                                                    // [B, N]
    }
}
