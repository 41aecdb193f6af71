using System.CommandLine;
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
public sealed class EvalCommand : KlearCommand
{
    readonly Option<string> _model = CliOption.Text("--model", "Hugging Face model directory (a run's checkpoints/*/model too)", required: true);
    readonly Option<string> _data = CliOption.Text("--data", "verl-format JSONL or parquet file of problems [default: the built-in task's held-out problems]");
    readonly Option<string> _out = CliOption.Text("--out", "write per-problem results to this JSON Lines file");
    readonly RunConfigOptions _config;

    public EvalCommand() : base("eval", "avg@k / pass@k / maj@k of a model on a dataset file or the built-in task")
    {
        Add(_model);
        Add(_data);
        Add(_out);
        _config = new RunConfigOptions(this);
    }

    protected override int Run(ParseResult parsed)
    {
        var modelDir = parsed.GetRequiredValue(_model);
        var dataFile = parsed.GetValue(_data);
        var outFile = parsed.GetValue(_out);
        var config = _config.Bind(parsed);
        if (!Directory.Exists(modelDir)) throw new UsageException($"--model: {modelDir} is not a directory");
        torch.set_num_threads(config.Threads);
        var model = PolicyFactory.Load(modelDir, config.Model);
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
