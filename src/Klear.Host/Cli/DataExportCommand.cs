using System.Text.Json.Nodes;
using Klear.Host.Data;
using Klear.Host.Training;

namespace Klear.Host.Cli;

/// <summary><c>klear data export --out DIR</c>: the built-in arithmetic task as verl-format JSONL files
/// (train.jsonl RL prompts, val.jsonl held-out problems, sft.jsonl with teacher responses in extra_info.response).</summary>
public sealed class DataExportCommand : ICommand
{
    public string Name => "data export";
    public string Summary => "write the built-in arithmetic task as verl-format JSONL";

    public int Run(CliArgs args)
    {
        var outDir = args.RequiredString("out");
        var train = args.Int("train", 1000);
        var sft = args.Int("sft", 1000);
        var config = TrainCommand.BindConfig(args);
        args.RejectUnknown();
        var task = new ArithmeticTrainingTask(config.Seed, config.Data);
        VerlDataset.SaveJsonl(Path.Combine(outDir, "val.jsonl"), task.EvalSet);
        VerlDataset.SaveJsonl(Path.Combine(outDir, "train.jsonl"), Enumerable.Range(0, train).Select(i => task.RlPrompt(i)));
        VerlDataset.SaveJsonl(Path.Combine(outDir, "sft.jsonl"), Enumerable.Range(0, sft).Select(i =>
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
        Console.WriteLine($"wrote {outDir}/train.jsonl ({train}), val.jsonl ({task.EvalSet.Count}), sft.jsonl ({sft})");
        return 0;
    }
}
