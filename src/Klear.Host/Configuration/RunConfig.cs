namespace Klear.Host.Configuration;

/// <summary>
/// Everything a run reads, one section per component (verl's key names where verl has them). Bound from YAML plus
/// dotted overrides by Cli.ConfigBinder; the resolved copy is written to the run directory as config.yaml.
/// </summary>
public sealed record RunConfig
{
    public long Seed { get; init; } = 0;
    /// <summary>Parent folder of run directories.</summary>
    public string OutputDir { get; init; } = "runs";
    /// <summary>Intra-op threads; 1 was fastest for the tiny model on 2 cores.</summary>
    public int Threads { get; init; } = 1;
    public DataConfig Data { get; init; } = new();
    public ModelConfig Model { get; init; } = new();
    public SftConfig Sft { get; init; } = new();
    public ActorConfig Actor { get; init; } = new();
    public RolloutConfig Rollout { get; init; } = new();
    public AlgorithmConfig Algorithm { get; init; } = new();
    public TrainerConfig Trainer { get; init; } = new();
    public EvalConfig Eval { get; init; } = new();
    public RewardConfig Reward { get; init; } = new();
}
