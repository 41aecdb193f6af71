using System.Text.Json;
using System.Text.Json.Serialization;

namespace Klear.Host.Cli;

/// <summary>
/// One side's figures from one <c>model bench</c> measurement; null where that part was not run. Per CPU-second
/// divides by the process's CPU time instead of wall time: with one thread that is the work done, which a busy
/// neighbour stretches far less than the wall clock. GenSimple is the PyTorch peer's lighter loop only; Blas names the
/// peer's BLAS library (Klear's libtorch brings MKL).
/// </summary>
public sealed record ModelBenchFigures(
    [property: JsonPropertyName("matmul_gflops")] double MatmulGflops,
    [property: JsonPropertyName("train_tokens_per_s")] double? TrainTokensPerS,
    [property: JsonPropertyName("gen_tokens_per_s")] double? GenTokensPerS,
    [property: JsonPropertyName("gen_nocache_tokens_per_s")] double? GenNoCacheTokensPerS,
    [property: JsonPropertyName("gen_tokens_per_cpu_s")] double? GenTokensPerCpuS,
    [property: JsonPropertyName("gen_simple_tokens_per_s")] double? GenSimpleTokensPerS = null,
    [property: JsonPropertyName("train_tokens_per_cpu_s")] double? TrainTokensPerCpuS = null,
    [property: JsonPropertyName("peak_rss_bytes")] long? PeakRssBytes = null,
    [property: JsonPropertyName("blas")] string? Blas = null)
{
    public string ToJson() => JsonSerializer.Serialize(this);

    public static ModelBenchFigures FromJson(string json) =>
        JsonSerializer.Deserialize<ModelBenchFigures>(json) ?? throw new InvalidDataException("model bench: empty figures");

    /// <summary>This process's peak resident set (VmHWM), the figure the peer reports as ru_maxrss.</summary>
    public static long? OwnPeakRss()
    {
        if (!File.Exists("/proc/self/status")) return null;
        var line = File.ReadLines("/proc/self/status").FirstOrDefault(l => l.StartsWith("VmHWM:", StringComparison.Ordinal));
        return line is null ? null : long.Parse(line.Split(' ', StringSplitOptions.RemoveEmptyEntries)[1]) * 1024;
    }
}
