using Klear.Host.Configuration;
using Klear.Host.Checkpoints;
using Klear.Host.Model;

namespace Klear.Host.Training;

/// <summary>Builds the policy a run starts from: a Hugging Face directory, or a freshly initialised tiny Qwen3.</summary>
public static class PolicyFactory
{
    public static Qwen3ForCausalLM Create(ModelConfig config, int vocabSize, long seed)
    {
        if (config.Path is { } path) return HfCheckpoint.Load(path);
        if (config.Hidden % config.Heads != 0)
            throw new ArgumentException($"model.hidden ({config.Hidden}) must be divisible by model.heads ({config.Heads})");
        var q = new Qwen3Config
        {
            VocabSize = vocabSize,
            HiddenSize = config.Hidden,
            IntermediateSize = config.Hidden * config.MlpRatio,
            NumHiddenLayers = config.Layers,
            NumAttentionHeads = config.Heads,
            NumKeyValueHeads = config.KvHeads,
            HeadDimOverride = config.Hidden / config.Heads,
            MaxPositionEmbeddings = config.MaxPositions,
            RopeTheta = 10_000,
            TieWordEmbeddings = config.TieEmbeddings,
            InitializerRange = config.InitStd,
        };
        return new Qwen3ForCausalLM(q).InitializeWeights(seed);
    }
}
