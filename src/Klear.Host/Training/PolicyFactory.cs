using Klear.Host.Configuration;
using Klear.Host.Checkpoints;
using Klear.Host.Model;
using TorchSharp;
using static TorchSharp.torch;

namespace Klear.Host.Training;

/// <summary>Builds the policy a run starts from: a Hugging Face directory, or a freshly initialised tiny Qwen3.</summary>
public static class PolicyFactory
{
    public static Qwen3ForCausalLM Create(ModelConfig config, int vocabSize, long seed)
    {
        if (config.Path is { } path) return Load(path, config);
        var model = new Qwen3ForCausalLM(Describe(config, vocabSize)!).InitializeWeights(seed);
        return Place(model, config);
    }

    /// <summary>The Hugging Face directory <paramref name="directory"/> with the settings' YaRN override, if any, on
    /// model.device.</summary>
    public static Qwen3ForCausalLM Load(string directory, ModelConfig config)
    {
        CheckRope(config);
        return Place(HfCheckpoint.Load(directory, c => WithRope(c, config)), config);
    }

    /// <summary>Moves the model to model.device (weights are read and initialised on the CPU); the optimizer built from
    /// its parameters afterwards keeps its state there too.</summary>
    static Qwen3ForCausalLM Place(Qwen3ForCausalLM model, ModelConfig config)
    {
        var device = DeviceOf(config);
        if (device.type != DeviceType.CPU) model.to(device);
        return model;
    }

    /// <summary>model.device, checked: a CUDA device needs a CUDA build of libtorch and a GPU.</summary>
    public static Device DeviceOf(ModelConfig config)
    {
        var name = config.Device.Trim();
        if (!System.Text.RegularExpressions.Regex.IsMatch(name, @"^(cpu|cuda(:\d+)?)$"))
            throw new ConfigException($"model.device: '{config.Device}' is not a device (cpu, cuda or cuda:N)");
        if (name.StartsWith("cuda", StringComparison.Ordinal) && !torch.cuda.is_available())
            throw new ConfigException($"model.device={name}: no CUDA device available (this build links the CPU libtorch; README, \"CUDA\")");
        return torch.device(name);
    }

    /// <summary><paramref name="shape"/> with model.yarn_factor applied (unchanged when it is null).</summary>
    public static Qwen3Config WithRope(Qwen3Config shape, ModelConfig config) =>
        config.YarnFactor is { } factor ? shape.WithYarn(factor, config.YarnOriginalMaxPositions) : shape;

    static void CheckRope(ModelConfig config)
    {
        if (config.YarnFactor is { } f && !(f >= 1))
            throw new ConfigException($"model.yarn_factor must be >= 1 (a context extension), got {f}");
        if (config.YarnOriginalMaxPositions is { } o && o < 1)
            throw new ConfigException($"model.yarn_original_max_positions must be >= 1, got {o}");
        if (config.YarnFactor is null && config.YarnOriginalMaxPositions is not null)
            throw new ConfigException("model.yarn_original_max_positions is set but model.yarn_factor is not");
    }

    /// <summary>The checked architecture (no weights), so a bad model setting fails before any work.</summary>
    public static Qwen3Config? Describe(ModelConfig config, int vocabSize)
    {
        CheckRope(config);
        DeviceOf(config);
        if (config.Path is { } path)
        {
            if (!File.Exists(System.IO.Path.Combine(path, "config.json")))
                throw new ConfigException($"model.path: no config.json in '{path}' (a Hugging Face model directory is expected)");
            return null;
        }
        foreach (var (key, value) in new[] { ("layers", config.Layers), ("hidden", config.Hidden), ("heads", config.Heads),
                     ("kv_heads", config.KvHeads), ("mlp_ratio", config.MlpRatio), ("max_positions", config.MaxPositions) })
            if (value < 1) throw new ConfigException($"model.{key} must be >= 1, got {value}");
        if (config.Hidden % config.Heads != 0)
            throw new ConfigException($"model.hidden ({config.Hidden}) must be divisible by model.heads ({config.Heads})");
        if (config.Heads % config.KvHeads != 0)
            throw new ConfigException($"model.heads ({config.Heads}) must be divisible by model.kv_heads ({config.KvHeads})");
        if (!(config.InitStd > 0)) throw new ConfigException($"model.init_std must be > 0, got {config.InitStd}");
        return WithRope(new Qwen3Config
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
        }, config);
    }
}
