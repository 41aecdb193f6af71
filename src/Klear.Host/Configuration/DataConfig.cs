using System.ComponentModel;

namespace Klear.Host.Configuration;

/// <summary>Where problems come from: the built-in arithmetic task, or verl-format files.</summary>
public sealed record DataConfig
{
    [Description("arithmetic (built in) | files (train_files / val_files)")]
    public string Task { get; init; } = "arithmetic";
    [Description("verl-format JSONL or parquet of RL prompts (task = files)")]
    public string? TrainFiles { get; init; }
    [Description("verl-format JSONL or parquet for evaluation (task = files)")]
    public string? ValFiles { get; init; }
    [Description("verl-format rows whose extra_info.response holds SFT targets (task = files)")]
    public string? SftFiles { get; init; }
    [Description("Held-out rows in the same layout, for the SFT validation loss (task = files; optional)")]
    public string? SftValFiles { get; init; }
    [Description("How chat prompts become text: raw (the last message's content) | qwen3-chat (Qwen3's template)")]
    public string PromptFormat { get; init; } = "raw";
    [Description("Operand counts of SFT problems and their weights (arithmetic)")]
    public Dictionary<int, double> SftOperands { get; init; } = new() { [2] = 1, [3] = 2 };
    [Description("Operand counts of RL and evaluation problems and their weights (arithmetic)")]
    public Dictionary<int, double> RlOperands { get; init; } = new() { [3] = 1 };
    [Description("Held-out problems for evaluation (arithmetic)")]
    public int EvalProblems { get; init; } = 400;
    // The paper's SFT ablations vary exactly trace correctness and source mix.
    [Description("Teachers writing the SFT traces (arithmetic), drawn by weight per example; each has its own share of traces with one arithmetic slip")]
    public List<TeacherConfig> Teachers { get; init; } = [new()];
}
