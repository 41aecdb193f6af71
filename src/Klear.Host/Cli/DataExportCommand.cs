using System.CommandLine;
using System.Text.Json.Nodes;
using Klear.Host.Data;
using Klear.Host.Training;

namespace Klear.Host.Cli;

/// <summary><c>klear data export --out DIR [--format jsonl|parquet]</c>: the built-in arithmetic task as verl-format files
/// (train RL prompts, val held-out problems, sft with teacher responses in extra_info.response).</summary>
public sealed class DataExportCommand : KlearCommand
{
    readonly Option<string> _out = CliOption.Text("--out", "directory to write train, val and sft files into", required: true);
    readonly Option<int> _train = CliOption.Int("--train", "RL prompts in train", 1000);
    readonly Option<int> _sft = CliOption.Int("--sft", "SFT examples in sft", 1000);
    readonly Option<string> _format = CliOption.Choice("--format", "file format", "jsonl", "jsonl", "parquet");
    readonly RunConfigOptions _config;

    public DataExportCommand() : base("data export", "write the built-in arithmetic task as verl-format JSONL or parquet (train, val, sft)")
    {
        Add(_out);
        Add(_train);
        Add(_sft);
        Add(_format);
        _config = new RunConfigOptions(this);
    }

    protected override bool UsesTorch => false;

    protected override int Run(ParseResult parsed)
    {
        var outDir = parsed.GetRequiredValue(_out);
        var (train, sft, format) = (parsed.GetValue(_train), parsed.GetValue(_sft), parsed.GetRequiredValue(_format));
        var config = _config.Bind(parsed);
        var task = new ArithmeticTrainingTask(config.Seed, config.Data);
        Directory.CreateDirectory(outDir);
        VerlDataset.Save(Path.Combine(outDir, $"val.{format}"), task.EvalSet);
        VerlDataset.Save(Path.Combine(outDir, $"train.{format}"), Enumerable.Range(0, train).Select(i => task.RlPrompt(i)));
        VerlDataset.Save(Path.Combine(outDir, $"sft.{format}"), Enumerable.Range(0, sft).Select(i =>
        {
            var e = task.SftExample(i);
            var row = task.RlPrompt(i);
            return row with
            {
                Prompt = [new Tokenization.ChatMessage("user", e.Prompt)],
                GroundTruth = "",
                ExtraInfo = new JsonObject { ["split"] = "sft", ["index"] = i, ["response"] = e.Response },
            };
        }));
        Console.WriteLine($"wrote {outDir}/train.{format} ({train}), val.{format} ({task.EvalSet.Count}), sft.{format} ({sft})");
        return 0;
    }
}
