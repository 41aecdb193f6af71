using Klear.Host.Checkpoints;
using Klear.Host.Data;
using Klear.Host.Evaluation;
using Klear.Host.Rewards;
using Klear.Host.Tokenization;
using Klear.Host.Training;
using TorchSharp;

namespace Klear.Host.Cli;

/// <summary>
/// <c>klear eval --model DIR [--data FILE.jsonl] [--out FILE.jsonl] [eval.k=4 ...]</c>: avg@k, pass@k, maj@k and greedy
/// accuracy of a Hugging Face model directory (a run's <c>checkpoints/*/model</c> included) on a verl-format file, or on
/// the built-in task's held-out problems; per-problem results as JSON Lines.
/// </summary>
public sealed class EvalCommand : ICommand
{
    public string Name => "eval";
    public string Summary => "avg@k / pass@k / maj@k of a model on a dataset file or the built-in task";

    public int Run(CliArgs args)
    {
        var modelDir = args.RequiredString("model");
        var dataFile = args.String("data");
        var outFile = args.String("out");
        var config = TrainCommand.BindConfig(args);
        args.RejectUnknown();
        if (!Directory.Exists(modelDir)) throw new UsageException($"--model: {modelDir} is not a directory");
        torch.set_num_threads(config.Threads);
        var model = HfCheckpoint.Load(modelDir);
        ITokenizer tokenizer = File.Exists(Path.Combine(modelDir, HfTokenizer.FileName)) ? HfTokenizer.Load(modelDir) : TrainingRun.BuiltInTokenizer(config.Model.Tokenizer);
        IReadOnlyList<VerlRow> problems;
        Func<VerlRow, string> render;
        if (dataFile is null)
        {
            var task = new ArithmeticTrainingTask(config.Seed, config.Data);
            (problems, render) = (task.EvalSet, task.RenderPrompt);
        }
        else
        {
            if (!File.Exists(dataFile)) throw new UsageException($"--data: {dataFile} not found");
            var task = new FileTrainingTask(config.Seed, config.Data with { ValFiles = dataFile, TrainFiles = null, SftFiles = null });
            (problems, render) = (task.EvalSet, task.RenderPrompt);
        }
        var rewards = StandardRewards.Create(config.Reward);
        var clock = System.Diagnostics.Stopwatch.StartNew();
        var (summary, results) = new Evaluator(model, tokenizer, rewards, config.Eval).Run(problems, render, config.Seed);
        Console.WriteLine(summary.Table());
        Console.WriteLine($"({clock.Elapsed.TotalSeconds:0.0}s, T {config.Eval.Temperature}, top-p {config.Eval.TopP}, k {config.Eval.K})");
        if (outFile is not null)
        {
            Evaluator.Save(outFile, results);
            Console.WriteLine($"per-problem results: {outFile}");
        }
        return 0;
    }
}
