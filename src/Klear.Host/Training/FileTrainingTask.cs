using Klear.Host.Configuration;
using System.Text.Json.Nodes;
using Klear.Host.Data;
using Klear.Host.Tokenization;

namespace Klear.Host.Training;

/// <summary>
/// A training task read from verl-format files: RL prompts from <c>data.train_files</c>, evaluation problems from
/// <c>data.val_files</c>, SFT targets from <c>data.sft_files</c> (each row's <c>extra_info.response</c>; held-out ones for
/// the SFT validation loss from <c>data.sft_val_files</c>). Rows are
/// visited in a fresh seeded order each epoch, so draw i is a function of (seed, i).
/// </summary>
public sealed class FileTrainingTask : ITrainingTask
{
    readonly long _seed;
    readonly string _format;
    readonly IReadOnlyList<VerlRow> _train;
    readonly IReadOnlyList<(VerlRow Row, string Response)> _sft;
    readonly IReadOnlyList<(VerlRow Row, string Response)> _sftVal;

    public FileTrainingTask(long seed, DataConfig config)
    {
        _seed = seed;
        _format = config.PromptFormat is "raw" or "qwen3-chat" ? config.PromptFormat
            : throw ConfigException.UnknownName("data.prompt_format", config.PromptFormat, ["raw", "qwen3-chat"]);
        _train = config.TrainFiles is { } t ? VerlDataset.Load(t) : [];
        EvalSet = config.ValFiles is { } v ? VerlDataset.Load(v) : [];
        _sft = config.SftFiles is { } s ? LoadSft(s) : [];
        _sftVal = config.SftValFiles is { } sv ? LoadSft(sv) : [];
    }

    static List<(VerlRow Row, string Response)> LoadSft(string path) =>
        VerlDataset.Load(path).Select((r, i) => (r, r.ExtraInfo?["response"] is JsonValue v && v.TryGetValue<string>(out var response) ? response
            : throw new DataFormatException(path, RowNumber(r, i), "extra_info.response", "missing (SFT rows need the target response as a string)"))).ToList();

    /// <summary>The row number in the file (JSONL skips blank lines, so it is read from the row's origin).</summary>
    static int RowNumber(VerlRow r, int index) =>
        int.TryParse(r.Origin[(r.Origin.LastIndexOf(':') + 1)..], out var n) ? n : index + 1;

    public string Name => "files";
    public IReadOnlyList<VerlRow> EvalSet { get; }

    public string RenderPrompt(VerlRow row) =>
        _format == "raw" ? row.Prompt[^1].Content : Qwen3ChatTemplate.Render(row.Prompt);

    public SftExample SftExample(long index)
    {
        if (_sft.Count == 0) throw new ConfigException("sft.steps > 0 needs data.sft_files");
        var (row, response) = _sft[Pick(index, _sft.Count, "sft")];
        return new SftExample(RenderPrompt(row), response);
    }

    public long? SftCount => _sft.Count;

    public IReadOnlyList<SftExample> SftValidationSet(int max) =>
        _sftVal.Take(max).Select(x => new SftExample(RenderPrompt(x.Row), x.Response)).ToList();

    public VerlRow RlPrompt(long index)
    {
        if (_train.Count == 0) throw new ConfigException("trainer.steps > 0 needs data.train_files");
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
