using System.Text.Json;
using System.Text.Json.Nodes;
using Klear.Host.Model;
using TorchSharp;
using static TorchSharp.torch;

namespace Klear.Host.Checkpoints;

/// <summary>
/// A Hugging Face model directory: <c>config.json</c> plus <c>model.safetensors</c>, or shards listed in
/// <c>model.safetensors.index.json</c>. Loading is key for key against the model's parameter names, checking count and
/// every shape; saving writes the same layout, so a Klear policy opens with <c>AutoModelForCausalLM.from_pretrained</c>.
/// </summary>
public static class HfCheckpoint
{
    public const string ConfigFile = "config.json";
    public const string SingleFile = "model.safetensors";
    public const string IndexFile = "model.safetensors.index.json";
    public const string GenerationConfigFile = "generation_config.json";

    /// <summary>Keys a checkpoint may carry that the model does not need: the frequencies are derived from the config.</summary>
    static bool Ignorable(string key, Qwen3Config config) =>
        key.EndsWith("rotary_emb.inv_freq", StringComparison.Ordinal) || (config.TieWordEmbeddings && key == "lm_head.weight");

    public static Qwen3Config LoadConfig(string directory)
    {
        var path = System.IO.Path.Combine(directory, ConfigFile);
        if (!File.Exists(path)) throw new CheckpointException($"{path}: file not found");
        Qwen3Config config;
        try { config = Qwen3Config.FromJson(File.ReadAllText(path)); }
        catch (JsonException e) { throw new CheckpointException($"{path}: {e.Message}"); }
        try { config.Validate(); }
        catch (ArgumentException e) { throw new CheckpointException($"{path}: {e.Message}"); }
        return config;
    }

    /// <summary>
    /// The ids that end a response: <c>eos_token_id</c> (one id or a list) of <c>generation_config.json</c> when present,
    /// as transformers' generate uses it (Qwen3 lists both <c>&lt;|im_end|&gt;</c> and <c>&lt;|endoftext|&gt;</c> there),
    /// else that of <c>config.json</c>; empty when neither names one.
    /// </summary>
    public static int[] LoadStopTokenIds(string directory)
    {
        foreach (var file in new[] { GenerationConfigFile, ConfigFile })
        {
            var path = System.IO.Path.Combine(directory, file);
            if (!File.Exists(path)) continue;
            JsonNode? eos;
            try { eos = JsonNode.Parse(File.ReadAllText(path))?["eos_token_id"]; }
            catch (JsonException e) { throw new CheckpointException($"{path}: {e.Message}"); }
            try
            {
                switch (eos)
                {
                    case JsonArray list: return list.Select(x => (int)x!).ToArray();
                    case JsonValue one: return [(int)one];
                }
            }
            catch (Exception e) when (e is FormatException or InvalidOperationException or NullReferenceException)
            { throw new CheckpointException($"{path}: eos_token_id must be an integer or a list of integers ({e.Message})"); }
        }
        return [];
    }

    /// <summary>Builds the model described by <c>config.json</c> (changed by <paramref name="adjust"/>, e.g. a YaRN
    /// override, which must keep every weight's shape) and fills it from the safetensors weights.</summary>
    public static Qwen3ForCausalLM Load(string directory, Func<Qwen3Config, Qwen3Config>? adjust = null)
    {
        var config = LoadConfig(directory);
        var model = new Qwen3ForCausalLM(adjust is null ? config : adjust(config));
        LoadWeights(model, directory);
        return model;
    }

    /// <summary>Copies every parameter from the directory's weights; throws naming the first missing, misshapen or unknown tensor.</summary>
    public static void LoadWeights(Qwen3ForCausalLM model, string directory)
    {
        var files = OpenWeightFiles(directory);
        try
        {
            var located = new Dictionary<string, SafeTensorsFile>(StringComparer.Ordinal);
            foreach (var f in files)
                foreach (var key in f.Entries.Keys)
                    if (!located.TryAdd(key, f))
                        throw new CheckpointException($"{directory}: tensor '{key}' appears in both {located[key].Path} and {f.Path}");

            var parameters = model.named_parameters().ToList();
            var expected = parameters.Select(p => p.name).ToHashSet(StringComparer.Ordinal);
            var unknown = located.Keys.Where(k => !expected.Contains(k) && !Ignorable(k, model.Config)).OrderBy(k => k, StringComparer.Ordinal).ToList();
            if (unknown.Count > 0)
                throw new CheckpointException($"{directory}: unexpected tensor '{unknown[0]}' ({unknown.Count} tensor(s) the Qwen3 model with this config.json does not have)");

            using var noGrad = torch.no_grad();
            foreach (var (name, parameter) in parameters)
            {
                if (!located.TryGetValue(name, out var file))
                    throw new CheckpointException($"{directory}: missing tensor '{name}' (shape [{string.Join(", ", parameter.shape)}])");
                var entry = file.Entries[name];
                if (!entry.Shape.SequenceEqual(parameter.shape))
                    throw new CheckpointException(
                        $"{file.Path}: tensor '{name}' has shape [{string.Join(", ", entry.Shape)}], the model expects [{string.Join(", ", parameter.shape)}]");
                using var scope = torch.NewDisposeScope();
                parameter.copy_(file.Read(name));
            }
        }
        finally
        {
            foreach (var f in files) f.Dispose();
        }
    }

    static List<SafeTensorsFile> OpenWeightFiles(string directory)
    {
        var single = System.IO.Path.Combine(directory, SingleFile);
        var index = System.IO.Path.Combine(directory, IndexFile);
        if (File.Exists(single)) return [SafeTensorsFile.Open(single)];
        if (!File.Exists(index)) throw new CheckpointException($"{directory}: neither {SingleFile} nor {IndexFile} found");

        JsonObject weightMap;
        try { weightMap = JsonNode.Parse(File.ReadAllText(index))!["weight_map"]!.AsObject(); }
        catch (Exception e) when (e is JsonException or NullReferenceException or InvalidOperationException)
        { throw new CheckpointException($"{index}: no readable weight_map ({e.Message})"); }

        var shardNames = weightMap.Select(kv => (string)kv.Value!).Distinct().OrderBy(s => s, StringComparer.Ordinal).ToList();
        var files = new List<SafeTensorsFile>();
        try
        {
            foreach (var shard in shardNames) files.Add(SafeTensorsFile.Open(System.IO.Path.Combine(directory, shard)));
            foreach (var (key, shard) in weightMap)
            {
                var file = files.Single(f => System.IO.Path.GetFileName(f.Path) == (string)shard!);
                if (!file.Entries.ContainsKey(key))
                    throw new CheckpointException($"{index}: maps tensor '{key}' to {shard}, which does not contain it");
            }
        }
        catch
        {
            foreach (var f in files) f.Dispose();
            throw;
        }
        return files;
    }

    /// <summary>Files besides config and weights that make a directory usable in the Python ecosystem.</summary>
    public static readonly string[] CompanionFiles =
        ["tokenizer.json", "tokenizer_config.json", GenerationConfigFile, "vocab.json", "merges.txt", "special_tokens_map.json"];

    static void CopyCompanionFiles(string from, string to)
    {
        if (!Directory.Exists(from)) throw new CheckpointException($"{from}: directory not found");
        if (Path.GetFullPath(from) == Path.GetFullPath(to)) return;
        foreach (var name in CompanionFiles)
        {
            var source = Path.Combine(from, name);
            if (File.Exists(source)) File.Copy(source, Path.Combine(to, name), overwrite: true);
        }
    }

    /// <summary>
    /// Writes <c>config.json</c> and the weights under their HF names, in one file or in shards of at most
    /// <paramref name="maxShardBytes"/> (0 = one file) with an index, the way <c>save_pretrained</c> lays them out, plus
    /// the tokenizer and generation files of <paramref name="companionFilesFrom"/> (e.g. the base model's directory).
    /// </summary>
    public static void Save(Qwen3ForCausalLM model, string directory, SafeTensorsDtype dtype = SafeTensorsDtype.F32, long maxShardBytes = 0,
        string? companionFilesFrom = null)
    {
        Directory.CreateDirectory(directory);
        if (companionFilesFrom is not null) CopyCompanionFiles(companionFilesFrom, directory);
        var extra = new Dictionary<string, JsonElement>(model.Config.Extra ?? []);
        extra["architectures"] = JsonSerializer.SerializeToElement(new[] { "Qwen3ForCausalLM" });
        extra["torch_dtype"] = JsonSerializer.SerializeToElement(dtype == SafeTensorsDtype.BF16 ? "bfloat16" : "float32");
        File.WriteAllText(System.IO.Path.Combine(directory, ConfigFile), (model.Config with { Extra = extra }).ToJson());

        var tensors = model.named_parameters().Select(p => (p.name, (Tensor)p.parameter)).ToList();
        int elementSize = SafeTensorEntry.ElementSize(dtype);
        var shards = new List<List<(string, Tensor)>> { new() };
        long current = 0;
        foreach (var t in tensors)
        {
            long bytes = t.Item2.numel() * elementSize;
            if (maxShardBytes > 0 && current > 0 && current + bytes > maxShardBytes) { shards.Add([]); current = 0; }
            shards[^1].Add(t);
            current += bytes;
        }
        foreach (var stale in Directory.GetFiles(directory, "model*.safetensors*")) File.Delete(stale);

        if (shards.Count == 1)
        {
            SafeTensorsFile.Write(System.IO.Path.Combine(directory, SingleFile), shards[0], dtype);
            return;
        }
        var weightMap = new JsonObject();
        long total = 0;
        for (int i = 0; i < shards.Count; i++)
        {
            var name = $"model-{i + 1:D5}-of-{shards.Count:D5}.safetensors";
            total += SafeTensorsFile.Write(System.IO.Path.Combine(directory, name), shards[i], dtype);
            foreach (var (key, _) in shards[i]) weightMap[key] = name;
        }
        var indexJson = new JsonObject { ["metadata"] = new JsonObject { ["total_size"] = total }, ["weight_map"] = weightMap };
        File.WriteAllText(System.IO.Path.Combine(directory, IndexFile), indexJson.ToJsonString(new JsonSerializerOptions { WriteIndented = true }));
    }
}
