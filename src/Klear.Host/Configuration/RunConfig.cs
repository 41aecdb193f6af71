using System.ComponentModel;

namespace Klear.Host.Configuration;

/// <summary>
/// Everything a run reads, one section per component (verl's key names where verl has them). Bound from YAML plus
/// dotted overrides by ConfigBinder; the resolved copy is written to the run directory as config.yaml, and
/// <c>klear config show</c> prints it with each key's type, default and help (the Description attributes).
/// </summary>
public sealed record RunConfig
{
    [Description("Seed of every random draw (data, initial weights, sampling)")]
    public long Seed { get; init; } = 0;
    [Description("Parent folder of run directories")]
    public string OutputDir { get; init; } = "runs";
    [Description("Intra-op threads; 1 was fastest for the tiny model on 2 cores")]
    public int Threads { get; init; } = 1;
    [Description("Where problems come from")]
    public DataConfig Data { get; init; } = new();
    [Description("The policy model")]
    public ModelConfig Model { get; init; } = new();
    [Description("Supervised fine-tuning before RL")]
    public SftConfig Sft { get; init; } = new();
    [Description("The RL update: objective, clip ranges, extra terms, optimizer")]
    public ActorConfig Actor { get; init; } = new();
    [Description("Sampling of RL rollouts")]
    public RolloutConfig Rollout { get; init; } = new();
    [Description("Advantages and the zero-advantage filter")]
    public AlgorithmConfig Algorithm { get; init; } = new();
    [Description("The RL loop's schedule")]
    public TrainerConfig Trainer { get; init; } = new();
    [Description("Evaluation after SFT, during and after RL")]
    public EvalConfig Eval { get; init; } = new();
    [Description("Rule rewards")]
    public RewardConfig Reward { get; init; } = new();
}
