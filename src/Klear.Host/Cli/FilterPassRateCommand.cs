using System.CommandLine;
using System.Diagnostics;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Klear.Host.Checkpoints;
using Klear.Host.Configuration;
using Klear.Host.Data;
using Klear.Host.Evaluation;
using Klear.Host.Model;
using Klear.Host.Rewards;
using Klear.Host.Rewards.Sandbox;
using Klear.Host.Rollout;
using Klear.Host.Tokenization;
using Klear.Host.Training;
using TorchSharp;

namespace Klear.Host.Cli;

/// <summary>
/// <c>klear data filter-pass-rate --model DIR --files IN.jsonl --k 16 --min 0.5 --out OUT.jsonl</c>: the paper's
/// preprocessing of code RL data. Samples k responses per row from a reference policy (<see cref="PassRateFilter"/>:
/// the trainer's sampler and rewards), keeps the rows whose share of fully rewarded samples is at least min, and writes
/// them unchanged. Every row is checked (format, reward, tests, prompt tokens) before any sampling.
/// </summary>
public sealed class FilterPassRateCommand : KlearCommand
{
    readonly Option<string> _model = CliOption.Text("--model", "the reference policy: a Hugging Face model directory (a run's checkpoints/*/model too)", required: true);
    readonly Option<string[]> _files = new("--files")
    {
        Description = "verl-format JSONL or parquet files of prompts (repeat the option, or separate with commas)",
        Required = true, HelpName = "FILE",
    };
    readonly Option<int> _k = CliOption.Int("--k", "samples per prompt (replaces eval.k)", 16);
    readonly Option<double> _min = CliOption.Double("--min", "keep a row when this share of its k samples or more earn full reward (code: every test passed)", 0.5);
    readonly Option<string> _out = CliOption.Text("--out", "the kept rows: JSONL (input lines copied byte for byte; parquet rows re-encoded) or .parquet", required: true);
    readonly Option<string> _summary = CliOption.Text("--summary", "also write the summary (counts, precision/recall on extra_info.wrong_tests, seconds) as JSON here");
    readonly RunConfigOptions _config;

    public FilterPassRateCommand() : base("data filter-pass-rate",
        "keep the prompts a reference policy solves in at least --min of --k samples (sampling: eval.temperature, " +
        "eval.top_p, eval.top_k, eval.max_new_tokens, eval.batch_size; rewards: reward.*; seed: --seed)")
    {
        foreach (var option in new Option[] { _model, _files, _k, _min, _out, _summary }) Add(option);
        _config = new RunConfigOptions(this);
    }

    protected override int Run(ParseResult parsed)
    {
        var clock = Stopwatch.StartNew();
        var (k, min) = (parsed.GetValue(_k), parsed.GetValue(_min));
        if (k < 1) throw new UsageException($"--k must be at least 1, got {k}");
        if (!(min >= 0 && min <= 1)) throw new UsageException($"--min must be in [0, 1], got {min}");
        var files = parsed.GetRequiredValue(_files).SelectMany(f => f.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries)).ToList();
        var output = parsed.GetRequiredValue(_out);
        var summaryFile = parsed.GetValue(_summary);
        CheckOutput("--out", output, files, [".jsonl", ".parquet"]);
        if (summaryFile is not null) CheckOutput("--summary", summaryFile, files, [".json"]);
        var config = _config.Bind(parsed);
        var sampling = config.Eval with { K = k, Greedy = false };
        try
        {
            if (config.Threads < 1) throw new ConfigException($"threads must be >= 1, got {config.Threads}");
            if (sampling.BatchSize < 1) throw new ConfigException($"eval.batch_size must be >= 1, got {sampling.BatchSize}");
            RlComponents.CheckSampling("eval", SamplingSettings.Of(sampling));
        }
        catch (ConfigException e) { throw new UsageException(e.Message); }

        var modelDir = parsed.GetRequiredValue(_model);
        var (model, tokenizer) = LoadPolicy(modelDir, config.Model.Tokenizer);
        var task = new FileTrainingTask(config.Seed, config.Data with { TrainFiles = null, ValFiles = null, SftFiles = null, SftValFiles = null });
        var rewards = StandardRewards.Create(config.Reward);
        var rows = files.SelectMany(VerlDataset.LoadWithText).ToList();
        if (rows.Count == 0) throw new UsageException($"--files: no rows in {string.Join(", ", files)}");
        foreach (var (row, _) in rows) CheckRow(row, rewards, tokenizer, task.RenderPrompt);
        StartRewards(rewards, rows.Select(r => r.Row));

        torch.set_num_threads(config.Threads);
        var filter = new PassRateFilter(model, tokenizer, rewards, sampling, min);
        Console.WriteLine($"sampling {k} responses for each of {rows.Count} rows (T {sampling.Temperature}, top-p {sampling.TopP}, " +
                          $"up to {sampling.MaxNewTokens} tokens, seed {config.Seed}) from {modelDir}");
        var tenths = 0;
        var verdicts = filter.Run(rows.Select(r => r.Row).ToList(), task.RenderPrompt, config.Seed, (done, total) =>
        {
            if (done * 10L / total <= tenths) return;
            tenths = (int)(done * 10L / total);
            Console.WriteLine($"  {done}/{total} samples ({clock.Elapsed.TotalSeconds:0} s)");
        });
        var kept = rows.Where((_, i) => verdicts[i].Kept).ToList();
        Write(output, kept);
        var summary = PassRateFilterSummary.Of(verdicts, k, min, clock.Elapsed.TotalSeconds);
        Console.WriteLine(summary.Table());
        Console.WriteLine($"kept {summary.Kept} of {summary.Rows} rows: {output}");
        if (summary.Kept == 0) Console.Error.WriteLine("warning: no row reached the minimum pass rate; the output is empty");
        if (summaryFile is not null)
        {
            var json = summary.ToJson();
            json["model"] = Path.GetFullPath(modelDir);
            json["files"] = new JsonArray(files.Select(f => (JsonNode)JsonValue.Create(Path.GetFullPath(f))).ToArray());
            json["seed"] = config.Seed;
            json["temperature"] = sampling.Temperature;
            json["top_p"] = sampling.TopP;
            json["top_k"] = sampling.TopK;
            json["max_new_tokens"] = sampling.MaxNewTokens;
            File.WriteAllText(summaryFile, json.ToJsonString(new JsonSerializerOptions { WriteIndented = true }) + "\n");
        }
        return 0;
    }

    static void CheckOutput(string option, string path, IReadOnlyList<string> inputs, string[] extensions)
    {
        if (!extensions.Any(e => path.EndsWith(e, StringComparison.OrdinalIgnoreCase)))
            throw new UsageException($"{option}: '{path}' must end in {string.Join(" or ", extensions)}");
        var dir = Path.GetDirectoryName(Path.GetFullPath(path))!;
        if (!Directory.Exists(dir)) throw new UsageException($"{option}: no such directory '{dir}'");
        if (inputs.Any(f => Path.GetFullPath(f) == Path.GetFullPath(path))) throw new UsageException($"{option}: '{path}' is also an input file");
    }

    static (Qwen3ForCausalLM, ITokenizer) LoadPolicy(string modelDir, string tokenizerName)
    {
        if (!Directory.Exists(modelDir)) throw new UsageException($"--model: {modelDir} is not a directory");
        Qwen3ForCausalLM model;
        try { model = HfCheckpoint.Load(modelDir); }
        catch (CheckpointException e) { throw new UsageException($"--model: {e.Message}"); }
        ITokenizer tokenizer;
        try { tokenizer = File.Exists(Path.Combine(modelDir, HfTokenizer.FileName)) ? HfTokenizer.Load(modelDir) : TrainingRun.BuiltInTokenizer(tokenizerName); }
        catch (ConfigException e) { throw new UsageException(e.Message); }
        // A vocabulary the model was not trained with fails every prompt, or worse, samples ids it does not decode.
        if (tokenizer.VocabSize != model.Config.VocabSize)
            throw new UsageException($"model.tokenizer: the {tokenizerName} vocabulary has {tokenizer.VocabSize} tokens but the model in {modelDir} " +
                                     $"has {model.Config.VocabSize}; give the one it was trained with (model.tokenizer=ascii for the synthetic code task)");
        return (model, tokenizer);
    }

    /// <summary>Everything that could fail a row mid-run, checked before any sampling: its reward, its tests, its
    /// prompt's tokens and its extra_info.wrong_tests flag.</summary>
    static void CheckRow(VerlRow row, RewardRegistry rewards, ITokenizer tokenizer, Func<VerlRow, string> render)
    {
        var file = row.Origin[..Math.Max(0, row.Origin.LastIndexOf(':'))];
        var line = VerlDataset.RowNumber(row);
        if (StandardRewards.RowError(rewards, row.DataSource, row.GroundTruth) is { } error)
            throw new DataFormatException(file, line, error.Field, error.Problem);
        try { tokenizer.Encode(render(row)); }
        catch (ArgumentException e) { throw new DataFormatException(file, line, "prompt", e.Message); }
        PassRateFilterSummary.WrongTests(row);
    }

    /// <summary>Starts the code sandbox now, when any row needs it: a machine without it fails here, not after sampling.</summary>
    static void StartRewards(RewardRegistry rewards, IEnumerable<VerlRow> rows)
    {
        var code = rows.FirstOrDefault(r => RewardRegistry.CodeDataSources.Contains(r.DataSource));
        if (code is null) return;
        try { rewards.ScoreAsync(code.DataSource, "", code.GroundTruth).GetAwaiter().GetResult(); }
        catch (SandboxUnavailableException e) { throw new UsageException(e.Message); }
    }

    static void Write(string path, IReadOnlyList<(VerlRow Row, string? Text)> rows)
    {
        if (path.EndsWith(".parquet", StringComparison.OrdinalIgnoreCase))
        {
            VerlParquet.Save(path, rows.Select(r => r.Row));
            return;
        }
        using var w = new StreamWriter(path, false, new UTF8Encoding(false));
        foreach (var (row, text) in rows) w.WriteLine(text ?? row.ToJson().ToJsonString());
    }
}
