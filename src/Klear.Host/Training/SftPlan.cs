using Klear.Host.Configuration;
namespace Klear.Host.Training;

/// <summary>
/// Which SFT examples each optimizer step trains on: consecutive runs of the task's example stream, <c>batch_size</c>
/// at a time, or — with a token budget — as many as fit in <c>max_tokens</c> counted as rows × longest sequence. The
/// whole plan is made before training, so the cosine schedule knows its length and a resumed run takes the same batches.
/// </summary>
public sealed class SftPlan
{
    public IReadOnlyList<(long Start, int Count)> Batches { get; }
    public int Steps => Batches.Count;

    SftPlan(List<(long, int)> batches) => Batches = batches;

    /// <param name="length">Tokens of example i (prompt, response and end token); only read with a token budget.</param>
    public static SftPlan Create(SftConfig config, long? examplesPerEpoch, Func<long, int> length)
    {
        var total = Validate(config, examplesPerEpoch);
        var batches = new List<(long, int)>();
        long next = 0;
        bool More() => total is { } t ? next < t : batches.Count < config.Steps;
        while (More())
        {
            int count = 0, longest = 0;
            while (count < config.BatchSize && (total is not { } t || next + count < t))
            {
                if (config.MaxTokens > 0)
                {
                    var l = Math.Max(longest, length(next + count));
                    // The first example always goes in, even alone over budget: skipping it would change the data.
                    if (count > 0 && (long)l * (count + 1) > config.MaxTokens) break;
                    longest = l;
                }
                count++;
            }
            batches.Add((next, count));
            next += count;
        }
        return new SftPlan(batches);
    }

    /// <summary>Checks the settings (cheaply, before a run writes anything); returns the examples an epoch-limited
    /// run trains on, or null when sft.steps decides.</summary>
    public static long? Validate(SftConfig config, long? examplesPerEpoch)
    {
        if (config.BatchSize < 1) throw new ConfigException($"sft.batch_size must be at least 1, got {config.BatchSize}");
        if (config.MaxTokens < 0) throw new ConfigException($"sft.max_tokens must be 0 (off) or positive, got {config.MaxTokens}");
        SftStop.Validate(config);
        long? total = null;
        if (config.Epochs is { } epochs)
        {
            if (!(epochs > 0)) throw new ConfigException($"sft.epochs must be positive, got {epochs}");
            if (examplesPerEpoch is not { } n)
                throw new ConfigException("sft.epochs needs a finite SFT data set (data.task=files with data.sft_files); " +
                                              "the arithmetic task generates examples without end, so set sft.steps instead");
            if (n == 0) throw new ConfigException("sft.epochs: the SFT data set is empty");
            total = (long)Math.Ceiling(epochs * n);
        }
        else if (config.Steps < 0) throw new ConfigException($"sft.steps must be 0 or positive, got {config.Steps}");
        return total;
    }
}
