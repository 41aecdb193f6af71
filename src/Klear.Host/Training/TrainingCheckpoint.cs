using Klear.Host.Configuration;
using System.Text.Json;
using System.Text.Json.Serialization;
using Klear.Host.Checkpoints;
using Klear.Host.Model;
using TorchSharp.Modules;

namespace Klear.Host.Training;

/// <summary>
/// <c>checkpoints/{phase}-step-NNNNNN/</c>: the policy as a Hugging Face directory (config.json + safetensors), the
/// optimizer state, the run's config and <c>state.json</c>. Written into a temporary folder and renamed into place,
/// then <c>latest</c> is replaced atomically, so a crash while writing leaves the previous checkpoint in charge. The
/// RNG needs no saving: every draw is keyed by (seed, step).
/// </summary>
public static class TrainingCheckpoint
{
    static readonly JsonSerializerOptions Json = new()
    {
        WriteIndented = true, PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower, Converters = { new PhaseConverter() },
    };

    /// <summary>The phase as its file name ("sft", "rl"), the spelling state.json has always had.</summary>
    sealed class PhaseConverter : JsonConverter<TrainingPhase>
    {
        public override TrainingPhase Read(ref Utf8JsonReader reader, Type type, JsonSerializerOptions options) =>
            TrainingPhaseNames.Parse(reader.GetString() ?? "");

        public override void Write(Utf8JsonWriter writer, TrainingPhase value, JsonSerializerOptions options) =>
            writer.WriteStringValue(value.Name());
    }

    public static string Save(string checkpointsDir, Qwen3ForCausalLM model, OptimizerHelper optimizer, CheckpointState state, RunConfig config)
    {
        Directory.CreateDirectory(checkpointsDir);
        var name = $"{state.Phase.Name()}-step-{state.NextStep:D6}";
        var final = Path.Combine(checkpointsDir, name);
        var temp = Path.Combine(checkpointsDir, $".tmp-{name}-{Environment.ProcessId}");
        if (Directory.Exists(temp)) Directory.Delete(temp, true);
        Directory.CreateDirectory(temp);
        HfCheckpoint.Save(model, Path.Combine(temp, "model"));
        optimizer.save_state_dict(Path.Combine(temp, "optimizer.bin"));
        File.WriteAllText(Path.Combine(temp, "config.yaml"), ConfigBinder.ToYaml(config));
        File.WriteAllText(Path.Combine(temp, "state.json"), JsonSerializer.Serialize(state, Json));
        if (Directory.Exists(final)) Directory.Delete(final, true);
        Directory.Move(temp, final);
        var latestTemp = Path.Combine(checkpointsDir, $".latest-{Environment.ProcessId}");
        File.WriteAllText(latestTemp, name);
        File.Move(latestTemp, Path.Combine(checkpointsDir, "latest"), overwrite: true);
        return final;
    }

    /// <summary>The directory named by <c>latest</c>, or null when the run has no complete checkpoint.</summary>
    public static string? Latest(string checkpointsDir)
    {
        var latest = Path.Combine(checkpointsDir, "latest");
        if (!File.Exists(latest)) return null;
        var dir = Path.Combine(checkpointsDir, File.ReadAllText(latest).Trim());
        return Directory.Exists(dir) ? dir : throw new InvalidDataException($"{latest} names {dir}, which does not exist");
    }

    public static CheckpointState ReadState(string checkpointDir) =>
        JsonSerializer.Deserialize<CheckpointState>(File.ReadAllText(Path.Combine(checkpointDir, "state.json")), Json)
            ?? throw new InvalidDataException($"{checkpointDir}/state.json is empty");

    /// <summary>Loads weights into <paramref name="model"/> and the optimizer state into <paramref name="optimizer"/>.</summary>
    public static CheckpointState Restore(string checkpointDir, Qwen3ForCausalLM model, OptimizerHelper? optimizer)
    {
        HfCheckpoint.LoadWeights(model, Path.Combine(checkpointDir, "model"));
        if (optimizer is not null) optimizer.load_state_dict(Path.Combine(checkpointDir, "optimizer.bin"));
        return ReadState(checkpointDir);
    }
}
