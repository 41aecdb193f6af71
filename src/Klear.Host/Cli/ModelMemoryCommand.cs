using System.CommandLine;
using System.Diagnostics;
using System.Text.Json;
using System.Text.Json.Nodes;
using Klear.Host.Checkpoints;
using Klear.Host.Metrics;
using Klear.Host.Model;
using Klear.Host.Rewards.Sandbox;
using Klear.Host.Rollout;

namespace Klear.Host.Cli;

/// <summary>
/// <c>model memory --model DIR</c>: peak resident memory and seconds of loading the model, generating a batch (fp32
/// and from a bf16 copy) and one RL update (old log-probs, forward, backward, AdamW) with and without activation
/// checkpointing, each in a process of its own (<see cref="MemoryProbe"/>) under a memory cgroup cap, so a phase that
/// does not fit is killed alone instead of pressing on the machine. Printed against the floor of parameters +
/// gradients + AdamW moments, with what would live on a GPU under <c>model.device=cuda</c>.
/// </summary>
public sealed class ModelMemoryCommand : KlearCommand
{
    static readonly string[] AllPhases = ["load", "generate-fp32", "generate-bf16", "update-checkpointed", "update-plain"];

    readonly Option<string> _model = CliOption.Text("--model", "Hugging Face model directory (e.g. one written by `klear model init`)", required: true);
    readonly Option<int> _batch = CliOption.Int("--batch", "sequences generated and trained on", 4);
    readonly Option<int> _prompt = CliOption.Int("--prompt-tokens", "prompt length of each sequence", 128);
    readonly Option<int> _response = CliOption.Int("--response-tokens", "response length of each sequence (generated without stop tokens; trained on all)", 1024);
    readonly Option<int> _threads = CliOption.Int("--threads", "intra-op threads of each phase", 2);
    readonly Option<int> _micro = CliOption.Int("--micro-batches", "micro-batches of the update (actor.micro_batches)", 1);
    readonly Option<string> _phases = CliOption.Text("--phases", $"comma-separated phases: {string.Join(", ", AllPhases)}", string.Join(',', AllPhases));
    readonly Option<double> _capGiB = CliOption.Double("--cap-gib", "memory cgroup cap of each phase's process, GiB (0: none)", 20);
    readonly Option<string> _out = CliOption.Text("--out", "also write the report as JSON to this file");
    // Internal: one phase in this process (what the command runs in each child).
    readonly Option<string> _phase = CliOption.Text("--phase", "run one phase in this process and print its JSON line (used by the command itself)");
    readonly Option<bool> _checkpointing = CliOption.Flag("--checkpointing", "with --phase update: activation checkpointing on");
    readonly Option<string> _dtype = CliOption.Choice("--dtype", "with --phase generate: weights and KV cache element type", "fp32", "fp32", "bf16");

    public ModelMemoryCommand() : base("model memory", "peak memory and time of load, generation and one RL update of a model directory, against the parameters + gradients + AdamW floor")
    {
        foreach (var o in new Option[] { _model, _batch, _prompt, _response, _threads, _micro, _phases, _capGiB, _out, _phase, _checkpointing, _dtype }) Add(o);
    }

    protected override int Run(ParseResult parsed)
    {
        var dir = parsed.GetRequiredValue(_model);
        if (!Directory.Exists(dir)) throw new UsageException($"--model: {dir} is not a directory");
        Qwen3Config config;
        try { config = HfCheckpoint.LoadConfig(dir); }
        catch (CheckpointException e) { throw new UsageException(e.Message); }
        int batch = parsed.GetValue(_batch), prompt = parsed.GetValue(_prompt), response = parsed.GetValue(_response);
        int threads = parsed.GetValue(_threads), micro = parsed.GetValue(_micro);
        if (batch < 2 || prompt < 1 || response < 1 || threads < 1 || micro < 1)
            throw new UsageException("--batch (>= 2, one RL group), --prompt-tokens, --response-tokens, --threads and --micro-batches must be positive");
        if (parsed.GetValue(_phase) is { } phase)
        {
            var plan = new MemoryProbe.Plan(dir, phase, batch, prompt, response, threads, parsed.GetValue(_checkpointing), parsed.GetRequiredValue(_dtype), micro);
            Console.WriteLine(MemoryProbe.Marker + MemoryProbe.Run(plan).ToJsonString());
            return 0;
        }
        var phases = parsed.GetRequiredValue(_phases).Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries);
        if (phases.Except(AllPhases).FirstOrDefault() is { } unknown)
            throw new UsageException($"--phases: unknown phase '{unknown}' (valid: {string.Join(", ", AllPhases)})");
        var cap = (long)(parsed.GetValue(_capGiB) * (1L << 30));
        // Never let a phase take what the neighbours need: the cap stays 2 GiB below what is available now, so the
        // cgroup's own OOM killer (one child) fires before the machine's (anyone).
        if (cap > 0) cap = Math.Min(cap, MemInfo("MemAvailable:") - (2L << 30));

        var report = new JsonObject
        {
            ["model"] = Path.GetFullPath(dir), ["machine"] = MachineInfo.Current(threads).ToJson(), ["memory_total_bytes"] = MemInfo("MemTotal:"),
            ["batch"] = batch, ["prompt_tokens"] = prompt, ["response_tokens"] = response, ["micro_batches"] = micro,
            ["load_average_before"] = LoadAverage(), ["cap_bytes"] = cap,
        };
        Console.WriteLine($"{dir}: {config.NumHiddenLayers} layers, hidden {config.HiddenSize}, {config.NumAttentionHeads}/{config.NumKeyValueHeads} heads × {config.HeadDim}, " +
                          $"MLP {config.IntermediateSize}, vocab {config.VocabSize}; batch {batch} × ({prompt} + {response}) tokens; {threads} thread(s)");
        Console.WriteLine($"machine: {MachineInfo.Current(threads)}; load average {LoadAverage()} (shared machine: times are under that load); " +
                          (cap > 0 ? $"each phase capped at {cap / GiB:F1} GiB" : "no memory cap"));
        var rows = new JsonArray();
        foreach (var p in phases)
        {
            var row = RunChild(dir, p, batch, prompt, response, threads, micro, cap);
            rows.Add(row);
            Console.WriteLine(Describe(row));
        }
        report["phases"] = rows;
        report["load_average_after"] = LoadAverage();
        report["floor"] = Floor(config, batch, prompt + response);
        WriteSummary(report);
        if (parsed.GetValue(_out) is { } outFile)
            File.WriteAllText(outFile, report.ToJsonString(new JsonSerializerOptions { WriteIndented = true }));
        return 0;
    }

    static JsonObject RunChild(string dir, string phase, int batch, int prompt, int response, int threads, int micro, long cap)
    {
        var (kind, flag) = phase switch
        {
            "generate-fp32" => ("generate", new[] { "--dtype", "fp32" }),
            "generate-bf16" => ("generate", new[] { "--dtype", "bf16" }),
            "update-checkpointed" => ("update", new[] { "--checkpointing" }),
            "update-plain" => ("update", Array.Empty<string>()),
            _ => ("load", Array.Empty<string>()),
        };
        var (file, prefix) = Self();
        var psi = new ProcessStartInfo(file) { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var a in prefix.Concat(["model", "memory", "--model", dir, "--phase", kind, "--batch", $"{batch}", "--prompt-tokens", $"{prompt}",
                     "--response-tokens", $"{response}", "--threads", $"{threads}", "--micro-batches", $"{micro}", .. flag]))
            psi.ArgumentList.Add(a);
        using var cgroup = cap > 0 ? SandboxCgroup.TryCreate($"klear-memory-{Environment.ProcessId}-{phase}", new SandboxLimits { MemoryBytes = cap, MaxProcesses = 4096 }) : null;
        cgroup?.BeginRun();
        var clock = Stopwatch.StartNew();
        using var child = Process.Start(psi)!;
        // The child is moved into the cgroup before it has loaded anything large (libtorch alone takes seconds).
        if (cgroup is not null) foreach (var procs in cgroup.ProcsFiles) File.WriteAllText(procs, $"{child.Id}");
        var stdout = child.StandardOutput.ReadToEndAsync();
        var stderr = child.StandardError.ReadToEndAsync();
        child.WaitForExit();
        var line = stdout.Result.Split('\n').FirstOrDefault(l => l.StartsWith(MemoryProbe.Marker, StringComparison.Ordinal));
        if (child.ExitCode == 0 && line is not null)
        {
            var row = JsonNode.Parse(line[MemoryProbe.Marker.Length..])!.AsObject();
            row["phase"] = phase;
            return row;
        }
        bool oom = cgroup?.OomKilled == true;
        return new JsonObject
        {
            ["phase"] = phase, ["failed"] = oom ? $"killed at the {cap / (double)(1L << 30):F1} GiB cap (out of memory)" : $"exit {child.ExitCode}: {Tail(stderr.Result)}",
            ["seconds"] = Math.Round(clock.Elapsed.TotalSeconds, 1),
        };
    }

    /// <summary>This program again: the dotnet host with klear.dll, or the apphost.</summary>
    static (string File, string[] Prefix) Self()
    {
        var host = Environment.ProcessPath ?? "dotnet";
        var dll = typeof(ModelMemoryCommand).Assembly.Location;
        return Path.GetFileNameWithoutExtension(host) == "dotnet" ? (host, [dll]) : (host, []);
    }

    static string Tail(string text) => string.Join(" | ", text.Trim().Split('\n').TakeLast(3));

    const double GiB = 1L << 30;

    static string Describe(JsonObject row)
    {
        if (row["failed"] is { } failed) return $"  {row["phase"],-20} {failed}";
        string G(string key) => $"{(long)row[key]! / GiB,5:F2} GiB";
        var tokens = row["tokens"] is { } t ? $", {(int)t / (double)row["seconds"]!:F1} tokens/s" : "";
        return $"  {row["phase"],-20} peak {G("peak_bytes")} (from {G("start_bytes")} after loading, whose peak was {G("load_peak_bytes")} in {(double)row["load_seconds"]!:F1} s), " +
               $"{(double)row["seconds"]!:F1} s{tokens}";
    }

    /// <summary>
    /// Bytes that must exist during an fp32 AdamW update (weights, gradients, two moments: 16 per parameter) and what
    /// else the update and generation hold, computed from the config: on a GPU these are what lives in device memory.
    /// </summary>
    static JsonObject Floor(Qwen3Config c, int batch, int tokens)
    {
        long n = ParameterCount(c);
        long kvBytes = 2L * c.NumHiddenLayers * batch * c.NumKeyValueHeads * tokens * c.HeadDim;   // per byte of element
        return new JsonObject
        {
            ["parameters"] = n, ["weights_bytes"] = 4 * n, ["gradients_bytes"] = 4 * n, ["adamw_bytes"] = 8 * n, ["floor_bytes"] = 16 * n,
            ["kv_cache_fp32_bytes"] = 4 * kvBytes, ["kv_cache_bf16_bytes"] = 2 * kvBytes,
            ["layer_checkpoints_bytes"] = 4L * c.NumHiddenLayers * batch * tokens * c.HiddenSize,
            ["logits_chunk_bytes"] = 4 * Math.Min(SequenceScorer.MaxChunkLogits, (long)batch * tokens * c.VocabSize),
        };
    }

    /// <summary>Parameters of a Qwen3 decoder of config <paramref name="c"/> (q/k norms, no biases unless attention_bias).</summary>
    public static long ParameterCount(Qwen3Config c)
    {
        long h = c.HiddenSize, d = c.HeadDim, q = c.NumAttentionHeads * d, kv = c.NumKeyValueHeads * d;
        long attention = h * q + 2 * h * kv + q * h + 2 * d + (c.AttentionBias ? q + 2 * kv + h : 0);
        long layer = attention + 3 * h * c.IntermediateSize + 2 * h;
        long embeddings = (c.TieWordEmbeddings ? 1 : 2) * (long)c.VocabSize * h;
        return embeddings + c.NumHiddenLayers * layer + h;
    }

    static void WriteSummary(JsonObject report)
    {
        var floor = report["floor"]!.AsObject();
        double F(string key) => (long)floor[key]! / GiB;
        double total = (long)report["memory_total_bytes"]! / GiB;
        Console.WriteLine($"floor of an fp32 AdamW update: {(long)floor["parameters"]!:N0} parameters × 16 B = {F("floor_bytes"):F2} GiB " +
                          $"(weights {F("weights_bytes"):F2}, gradients {F("gradients_bytes"):F2}, AdamW moments {F("adamw_bytes"):F2})");
        var peaks = report["phases"]!.AsArray().Select(r => r!.AsObject()).Where(r => r["peak_bytes"] is not null).ToList();
        if (peaks.Count > 0)
        {
            var worst = peaks.MaxBy(r => (long)r["peak_bytes"]!)!;
            double peak = (long)worst["peak_bytes"]! / GiB;
            Console.WriteLine($"largest peak: {worst["phase"]} {peak:F2} GiB of {total:F1} GiB on this machine: {total - peak:F1} GiB room " +
                              $"({peak - F("floor_bytes"):F2} GiB above the floor)");
        }
        Console.WriteLine($"on a GPU (model.device=cuda): weights, gradients and AdamW moments ({F("floor_bytes"):F2} GiB), the KV cache of generation " +
                          $"({F("kv_cache_fp32_bytes"):F2} GiB fp32, {F("kv_cache_bf16_bytes"):F2} bf16), activations (with checkpointing: one input per layer, " +
                          $"{F("layer_checkpoints_bytes"):F2} GiB, plus one layer's), a logits chunk ({F("logits_chunk_bytes"):F2} GiB); on the host: tokenizer, data, " +
                          "rewards, the sampled token ids (one copy per decode step) and checkpoint files (written from CPU copies)");
    }

    static long MemInfo(string field)
    {
        foreach (var line in File.ReadLines("/proc/meminfo"))
            if (line.StartsWith(field, StringComparison.Ordinal)) return long.Parse(line[field.Length..].Trim().Split(' ')[0]) * 1024;
        throw new InvalidOperationException($"/proc/meminfo has no {field}");
    }

    static string LoadAverage() =>
        File.Exists("/proc/loadavg") ? string.Join(' ', File.ReadAllText("/proc/loadavg").Split(' ').Take(3)) : "unknown";
}
