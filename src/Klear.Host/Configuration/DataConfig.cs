namespace Klear.Host.Configuration;

/// <summary>Where problems come from: the built-in arithmetic task, or verl-format files.</summary>
public sealed record DataConfig
{
    /// <summary>"arithmetic" (built in) or "files" (train_files / val_files).</summary>
    public string Task { get; init; } = "arithmetic";
    /// <summary>verl-format JSONL for RL prompts (task = files).</summary>
    public string? TrainFiles { get; init; }
    /// <summary>verl-format JSONL for evaluation (task = files).</summary>
    public string? ValFiles { get; init; }
    /// <summary>verl-format JSONL whose extra_info.response holds SFT targets (task = files).</summary>
    public string? SftFiles { get; init; }
    /// <summary>Held-out rows in the same layout, for the SFT validation loss (task = files; optional).</summary>
    public string? SftValFiles { get; init; }
    /// <summary>How chat prompts become text: "raw" (the last message's content) or "qwen3-chat" (Qwen3's template).</summary>
    public string PromptFormat { get; init; } = "raw";
    /// <summary>Operand counts of SFT problems and their weights (arithmetic).</summary>
    public Dictionary<int, double> SftOperands { get; init; } = new() { [2] = 1, [3] = 2 };
    /// <summary>Operand counts of RL and evaluation problems (arithmetic).</summary>
    public Dictionary<int, double> RlOperands { get; init; } = new() { [3] = 1 };
    /// <summary>Held-out problems for evaluation (arithmetic).</summary>
    public int EvalProblems { get; init; } = 400;
    /// <summary>Teachers writing the SFT traces (arithmetic), drawn by weight per example; each has its own share of
    /// traces with one arithmetic slip — the paper's SFT ablations vary exactly trace correctness and source mix.</summary>
    public List<TeacherConfig> Teachers { get; init; } = [new()];
}
