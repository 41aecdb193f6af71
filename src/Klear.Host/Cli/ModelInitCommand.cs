using System.CommandLine;
using System.Globalization;
using System.Text.Json;
using Klear.Host.Checkpoints;
using Klear.Host.Model;
using TorchSharp;

namespace Klear.Host.Cli;

/// <summary>
/// <c>model init --config config.json --out DIR [--seed N] [--dtype bf16|f32] [--max-shard-size 5GB] [--tokenizer PATH]</c>:
/// a randomly initialised Qwen3 of exactly the shape a Hugging Face <c>config.json</c> describes, written as an HF
/// directory (config, safetensors, shards with an index past the size limit), so a real-size model can be trained,
/// loaded and measured without downloading weights. Initialisation is transformers' (normal with std
/// <c>initializer_range</c> for every linear and embedding weight, unit norm gains) from a generator seeded by
/// <c>--seed</c>: the same seed writes the same bytes.
/// </summary>
public sealed class ModelInitCommand : KlearCommand
{
    /// <summary>transformers' <c>save_pretrained</c> default.</summary>
    public const string DefaultMaxShardSize = "5GB";

    readonly Option<string> _config = CliOption.Text("--config", "a Hugging Face config.json (e.g. docs/models/Qwen3-0.6B/config.json)", required: true);
    readonly Option<string> _out = CliOption.Text("--out", "directory to write (created; must not already hold a model)", required: true);
    readonly Option<long?> _seed = CliOption.OptionalLong("--seed", "seed of the initial weights [default: 0]");
    readonly Option<string> _dtype = CliOption.Choice("--dtype", "element type of the safetensors files", "bf16", "bf16", "f32");
    readonly Option<string> _maxShard = CliOption.Text("--max-shard-size", "largest weight file, e.g. 5GB, 500MB, 2000000 (bytes); bigger models are split into shards with an index", DefaultMaxShardSize);
    readonly Option<string> _tokenizer = CliOption.Text("--tokenizer", "a tokenizer.json, or a directory whose tokenizer and generation files are copied beside the weights");
    readonly Option<bool> _force = CliOption.Flag("--force", "overwrite a model already in --out");

    public ModelInitCommand() : base("model init", "write a randomly initialised Qwen3 of a config.json's exact shape as a Hugging Face directory")
    {
        foreach (var option in new Option[] { _config, _out, _seed, _dtype, _maxShard, _tokenizer, _force }) Add(option);
    }

    protected override int Run(ParseResult parsed)
    {
        var configPath = parsed.GetRequiredValue(_config);
        var outDir = parsed.GetRequiredValue(_out);
        long seed = parsed.GetValue(_seed) ?? 0;
        var dtype = parsed.GetRequiredValue(_dtype) == "bf16" ? SafeTensorsDtype.BF16 : SafeTensorsDtype.F32;
        long maxShardBytes = ParseSize(parsed.GetRequiredValue(_maxShard));
        var tokenizer = parsed.GetValue(_tokenizer);
        if (!File.Exists(configPath)) throw new UsageException($"--config: {configPath} not found");
        if (tokenizer is not null && !File.Exists(tokenizer) && !Directory.Exists(tokenizer))
            throw new UsageException($"--tokenizer: {tokenizer} not found");
        if (File.Exists(Path.Combine(outDir, HfCheckpoint.ConfigFile)) && !parsed.GetValue(_force))
            throw new UsageException($"--out: {outDir} already holds a model (config.json); pass --force to overwrite it");

        Qwen3Config config;
        try
        {
            config = Qwen3Config.FromJson(File.ReadAllText(configPath));
            config.Validate();
        }
        catch (Exception e) when (e is JsonException or ArgumentException) { throw new UsageException($"--config: {configPath}: {e.Message}"); }

        var clock = System.Diagnostics.Stopwatch.StartNew();
        using var model = new Qwen3ForCausalLM(config).InitializeWeights(seed);
        long parameters = model.parameters().Sum(p => p.numel());
        string? companions = tokenizer is not null && Directory.Exists(tokenizer) ? tokenizer : null;
        HfCheckpoint.Save(model, outDir, dtype, maxShardBytes, companions);
        if (tokenizer is not null && File.Exists(tokenizer))
            File.Copy(tokenizer, Path.Combine(outDir, Tokenization.HfTokenizer.FileName), overwrite: true);
        var files = Directory.GetFiles(outDir, "model*.safetensors");
        long bytes = files.Sum(f => new FileInfo(f).Length);
        Console.WriteLine($"{outDir}: {parameters:N0} parameters ({config.NumHiddenLayers} layers, hidden {config.HiddenSize}, vocab {config.VocabSize}), " +
                          $"seed {seed}, {dtype} in {files.Length} file(s) of {bytes / 1e9:F2} GB; {clock.Elapsed.TotalSeconds:F1}s");
        return 0;
    }

    /// <summary>Bytes from <c>5GB</c>, <c>500MB</c>, <c>64KB</c> (powers of 1000, as transformers reads them) or a plain number.</summary>
    public static long ParseSize(string text)
    {
        var s = text.Trim().ToUpperInvariant();
        (string Suffix, long Scale)[] units = [("GB", 1_000_000_000), ("MB", 1_000_000), ("KB", 1_000), ("B", 1)];
        long scale = 1;
        foreach (var (suffix, unit) in units)
            if (s.EndsWith(suffix, StringComparison.Ordinal)) { s = s[..^suffix.Length]; scale = unit; break; }
        if (!double.TryParse(s, NumberStyles.Float, CultureInfo.InvariantCulture, out var value) || !(value > 0))
            throw new UsageException($"--max-shard-size: '{text}' is not a positive size like 5GB, 500MB or 2000000");
        return (long)(value * scale);
    }
}
