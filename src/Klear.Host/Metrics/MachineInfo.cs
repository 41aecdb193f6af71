using System.Runtime.Intrinsics.X86;
using System.Text.Json.Nodes;

namespace Klear.Host.Metrics;

/// <summary>
/// What a run's numbers depend on besides its seed and config: libtorch picks its kernels by the CPU's vector
/// instructions (AVX-512 machines and AVX2-only ones give slightly different floats) and reductions split by thread
/// count. Same seed + same config + same <see cref="Isa"/> and threads → the same numbers; report.json records these so
/// two runs can be compared.
/// </summary>
public sealed record MachineInfo(string Cpu, string Isa, int Threads, string Torch)
{
    public static MachineInfo Current(int threads) => new(CpuModel(), VectorIsa(), threads, TorchSharp.torch.__version__);

    /// <summary>The widest x86 vector extension .NET sees (the level libtorch's CPU dispatch keys on).</summary>
    public static string VectorIsa() =>
        Avx512F.IsSupported ? "avx512" : Avx2.IsSupported ? "avx2" : Avx.IsSupported ? "avx" : System.Runtime.InteropServices.RuntimeInformation.ProcessArchitecture.ToString().ToLowerInvariant();

    static string CpuModel()
    {
        const string cpuinfo = "/proc/cpuinfo";
        if (!File.Exists(cpuinfo)) return "unknown";
        var line = File.ReadLines(cpuinfo).FirstOrDefault(l => l.StartsWith("model name", StringComparison.Ordinal));
        return line is null ? "unknown" : line[(line.IndexOf(':') + 1)..].Trim();
    }

    public JsonObject ToJson() => new() { ["cpu"] = Cpu, ["isa"] = Isa, ["threads"] = Threads, ["torch"] = Torch };

    /// <summary>One line for the console: what the run's numbers are reproducible on.</summary>
    public override string ToString() => $"{Cpu} ({Isa}), {Threads} intra-op thread{(Threads == 1 ? "" : "s")}, libtorch {Torch}";
}
