using Klear.Host.Data;
using Klear.Host.Tokenization;

namespace Klear.Host.Training;

/// <summary>
/// A training task read from verl-format files: RL prompts from <c>data.train_files</c>, evaluation problems from
/// <c>data.val_files</c>, SFT targets from <c>data.sft_files</c> (each row's <c>extra_info.response</c>). Rows are
/// visited in a fresh seeded order each epoch, so draw i is a function of (seed, i).
/// </summary>
public sealed class FileTrainingTask : ITrainingTask
{
    readonly long _seed;
    readonly string _format;
    readonly IReadOnlyList<VerlRow> _train;
    readonly IReadOnlyList<(VerlRow Row, string Response)> _sft;

    public FileTrainingTask(long seed, DataConfig config)
    {
        _seed = seed;
        _format = config.PromptFormat is "raw" or "qwen3-chat" ? config.PromptFormat
            : throw new Cli.ConfigException($"data.prompt_format: unknown '{config.PromptFormat}'; valid: raw, qwen3-chat");
        _train = config.TrainFiles is { } t ? VerlDataset.Load(t) : [];
        EvalSet = config.ValFiles is { } v ? VerlDataset.Load(v) : [];
        _sft = config.SftFiles is { } s
            ? VerlDataset.Load(s).Select(r => (r, r.ExtraInfo?["response"]?.GetValue<string>()
                ?? throw new DataFormatException(r.Origin.Split(':')[0], int.Parse(r.Origin.Split(':')[^1]), "extra_info.response", "missing (SFT rows need the target response)"))).ToList()
            : [];
    }

    public string Name => "files";
    public IReadOnlyList<VerlRow> EvalSet { get; }

    public string RenderPrompt(VerlRow row) =>
        _format == "raw" ? row.Prompt[^1].Content : Qwen3ChatTemplate.Render(row.Prompt);

    public SftExample SftExample(long index)
    {
        if (_sft.Count == 0) throw new Cli.ConfigException("sft.steps > 0 needs data.sft_files");
        var (row, response) = _sft[Pick(index, _sft.Count, "sft")];
        return new SftExample(RenderPrompt(row), response);
    }

    public VerlRow RlPrompt(long index)
    {
        if (_train.Count == 0) throw new Cli.ConfigException("trainer.steps > 0 needs data.train_files");
        return _train[Pick(index, _train.Count, "rl")];
    }

    int Pick(long index, int count, string purpose)
    {
        var epoch = index / count;
        var order = Enumerable.Range(0, count).ToArray();
        SeedSequence.Random(_seed, "files/" + purpose, epoch).Shuffle(order);
        return order[index % count];
    }
}
