using TorchSharp;
using static TorchSharp.torch;

namespace Klear.Host.Training;

/// <summary>
/// Prompt + response sequences right-padded into one [B, T] id tensor, with the mask of response targets aligned to
/// the scorer's output (position j scores token j + 1), so loss masks and log-probs line up by construction.
/// </summary>
public sealed record SequenceBatch(Tensor InputIds, Tensor ResponseMask, int[] ResponseLengths)
{
    /// <summary>Builds the batch on <paramref name="device"/> (the model's; default CPU); the tensors belong to the caller's dispose scope.</summary>
    public static SequenceBatch Create(IReadOnlyList<int[]> prompts, IReadOnlyList<int[]> responses, int padId, Device? device = null)
    {
        if (prompts.Count != responses.Count || prompts.Count == 0)
            throw new ArgumentException($"SequenceBatch: {prompts.Count} prompts for {responses.Count} responses");
        int b = prompts.Count;
        int t = Enumerable.Range(0, b).Max(i => prompts[i].Length + responses[i].Length);
        t = Math.Max(t, 2);
        var ids = new long[b * t];
        var mask = new float[b * (t - 1)];
        for (int i = 0; i < b; i++)
        {
            Array.Fill(ids, padId, i * t, t);
            int p = prompts[i].Length, r = responses[i].Length;
            for (int j = 0; j < p; j++) ids[i * t + j] = prompts[i][j];
            for (int j = 0; j < r; j++)
            {
                ids[i * t + p + j] = responses[i][j];
                mask[i * (t - 1) + p + j - 1] = 1f;          // target p + j is predicted at position p + j - 1
            }
        }
        return new SequenceBatch(torch.tensor(ids, [b, t], device: device), torch.tensor(mask, [b, t - 1], device: device), responses.Select(r => r.Length).ToArray());
    }

    /// <summary>The rows <paramref name="rows"/> of this batch, at its length.</summary>
    public SequenceBatch Rows(int[] rows)
    {
        using var idx = torch.tensor(rows.Select(i => (long)i).ToArray(), device: InputIds.device);
        return new SequenceBatch(InputIds.index_select(0, idx), ResponseMask.index_select(0, idx), rows.Select(i => ResponseLengths[i]).ToArray());
    }

    /// <summary>Per-token values of each response (e.g. the sampler's log-probs), placed where the response mask has
    /// its tokens: [B, T-1], 0 elsewhere. Each row needs one value per response token.</summary>
    public Tensor AlignToResponses(IReadOnlyList<float[]> perResponse)
    {
        if (perResponse.Count != ResponseLengths.Length)
            throw new ArgumentException($"SequenceBatch: {perResponse.Count} value rows for {ResponseLengths.Length} responses");
        long b = ResponseMask.shape[0], t1 = ResponseMask.shape[1];
        var mask = ResponseMask.cpu().data<float>().ToArray();
        var values = new float[mask.Length];
        for (int i = 0; i < b; i++)
        {
            if (perResponse[i].Length != ResponseLengths[i])
                throw new ArgumentException($"SequenceBatch: response {i} has {ResponseLengths[i]} tokens but {perResponse[i].Length} values");
            int j = 0;
            for (long p = 0; p < t1; p++)
                if (mask[i * t1 + p] > 0) values[i * t1 + p] = perResponse[i][j++];
        }
        return torch.tensor(values, [b, t1], device: ResponseMask.device);
    }
}
