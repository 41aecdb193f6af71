using System.Text.Json.Nodes;
using Klear.Host.Data;
using Klear.Host.Training;

namespace Klear.Host.Cli;

/// <summary><c>klear data export --out DIR [--format jsonl|parquet]</c>: the built-in arithmetic task as verl-format files
/// (train RL prompts, val held-out problems, sft with teacher responses in extra_info.response).</summary>
public sealed class DataExportCommand : ICommand
{
    public string Name => "data export";
    public string Summary => "write the built-in arithmetic task as verl-format JSONL or parquet (--out DIR, --format)";

    public int Run(CliArgs args)
    {
        var outDir = args.RequiredString("out");
        var train = args.Int("train", 1000);
        var sft = args.Int("sft", 1000);
        var format = args.String("format") ?? "jsonl";
        if (format is not ("jsonl" or "parquet")) throw new UsageException($"--format: '{format}' is not jsonl or parquet");
        var config = TrainCommand.BindConfig(args);
        args.RejectUnknown();
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
