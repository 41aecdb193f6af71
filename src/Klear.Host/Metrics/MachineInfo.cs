using System.Runtime.Intrinsics.X86;
using System.Text.Json.Nodes;

namespace Klear.Host.Metrics;

/// <summary>
/// What a run's numbers depend on besides its seed and config: libtorch picks its kernels by the CPU's vector
/// instructions (AVX-512 machines and AVX2-only ones give slightly different floats) and reductions split by thread
/// count, and on AMD CPUs MKL's GEMM path (<see cref="Model.MklDispatch"/>) rounds differently again. Same seed + same
/// config + same <see cref="Isa"/>, <see cref="Mkl"/> and threads → the same numbers; report.json records these so two
/// runs can be compared.
/// </summary>
/// <param name="Weights">How projection weights are stored (<see cref="Model.WeightLayout"/>): it picks MKL's kernels too.</param>
public sealed record MachineInfo(string Cpu, string Isa, int Threads, string Torch, string Mkl, string Weights)
{
    public static MachineInfo Current(int threads) =>
        new(CpuModel(), VectorIsa(), threads, TorchSharp.torch.__version__, Model.MklDispatch.Kernels, Model.WeightLayout.Name);

    /// <summary>The widest x86 vector extension .NET sees (the level libtorch's CPU dispatch keys on).</summary>
    public static string VectorIsa() =>
        Avx512F.IsSupported ? "avx512" : Avx2.IsSupported ? "avx2" : Avx.IsSupported ? "avx" : System.Runtime.InteropServices.RuntimeInformation.ProcessArchitecture.ToString().ToLowerInvariant();

    /// <summary>The model name with its family and model numbers: "AMD EPYC" alone names several generations.</summary>
    static string CpuModel()
    {
        const string cpuinfo = "/proc/cpuinfo";
        if (!File.Exists(cpuinfo)) return "unknown";
        var fields = File.ReadLines(cpuinfo).TakeWhile(l => l.Length > 0)   // the first processor's block
            .Select(l => l.Split(':', 2)).Where(kv => kv.Length == 2)
            .GroupBy(kv => kv[0].Trim()).ToDictionary(g => g.Key, g => g.First()[1].Trim());
        var name = fields.GetValueOrDefault("model name", "unknown");
        return fields.TryGetValue("cpu family", out var family) && fields.TryGetValue("model", out var model)
            ? $"{name} (family {family}, model {model})" : name;
    }

    public JsonObject ToJson() => new() { ["cpu"] = Cpu, ["isa"] = Isa, ["threads"] = Threads, ["torch"] = Torch, ["mkl"] = Mkl, ["weights"] = Weights };

    /// <summary>One line for the console: what the run's numbers are reproducible on.</summary>
    public override string ToString() => $"{Cpu} ({Isa}), {Threads} intra-op thread{(Threads == 1 ? "" : "s")}, libtorch {Torch}, MKL kernels {Mkl}, weights stored {Weights}";
}
