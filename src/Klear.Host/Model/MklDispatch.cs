using System.Runtime.InteropServices;
using System.Runtime.Intrinsics.X86;
using TorchSharp;

namespace Klear.Host.Model;

/// <summary>
/// Which of MKL's GEMM kernels libtorch runs on an AMD CPU. MKL (linked into libtorch_cpu.so) asks cpuid whether the
/// vendor is "GenuineIntel" and, on AMD, takes its generic path (<c>mkl_blas_def_sgemm_kernel_0_zen</c>) instead of
/// the AVX2 / AVX-512 kernels the CPU runs fine: `perf` on AMD EPYC Zen 3 and Zen 4 shows the switch, and training
/// and decoding are faster on the Intel kernels (docs/performance.md). MKL caches the vendor answer in a static that
/// its own code reads before asking cpuid; seeding that cache with "Intel" before the first BLAS call is the whole
/// change (no code is patched, nothing is preloaded). Applied on AMD CPUs with AVX2 and FMA, AVX-512 ones included
/// (measured on both). It changes float rounding, so it is part of what a run's numbers depend on:
/// <see cref="Metrics.MachineInfo"/> records <see cref="Kernels"/>.
/// </summary>
public static class MklDispatch
{
    /// <summary>
    /// <c>vendor</c> keeps MKL's own choice (e.g. to repeat a run made before this existed, or one made on an AVX-512
    /// AMD CPU before 2026-12-03, when the default there was still MKL's own path); anything else seeds the cache.
    /// </summary>
    public const string Variable = "KLEAR_MKL_DISPATCH";

    /// <summary>
    /// What MKL runs in this process, for reports: "intel-avx2" (or "intel-avx512" on an AVX-512 CPU) when seeded,
    /// otherwise "vendor".
    /// </summary>
    public static string Kernels => !_seeded ? "vendor" : Avx512F.IsSupported ? "intel-avx512" : "intel-avx2";

    /// <summary>Why the seeding did or did not happen (one line, for notices and tests).</summary>
    public static string Reason { get; private set; } = "not attempted";

    static readonly object Gate = new();
    static bool _attempted, _seeded;

    /// <summary>
    /// Seeds MKL's vendor cache on AMD CPUs with AVX2; call before any tensor work (Program.cs does, first thing).
    /// Idempotent; returns whether MKL now takes its Intel path.
    /// </summary>
    public static bool PreferIntelKernels()
    {
        lock (Gate)
        {
            if (_attempted) return _seeded;
            _attempted = true;
            Reason = Seed();
            return _seeded;
        }
    }

    static string Seed()
    {
        var setting = Environment.GetEnvironmentVariable(Variable);
        if (setting is "vendor") return $"{Variable}=vendor";
        if (!OperatingSystem.IsLinux() || RuntimeInformation.ProcessArchitecture != Architecture.X64) return "not Linux x64";
        if (!IsAmd()) return "not an AMD CPU (MKL's own dispatch is already right)";
        if (!Avx2.IsSupported || !Fma.IsSupported) return "no AVX2/FMA";

        torch.InitializeDeviceType(DeviceType.CPU);   // loads libtorch_cpu.so (no BLAS call yet)
        if (!NativeLibrary.TryLoad("libtorch_cpu.so", out var library)) return "libtorch_cpu.so is not loaded";
        if (!NativeLibrary.TryGetExport(library, "mkl_serv_intel_cpu_true", out var function))
            return "this libtorch has no mkl_serv_intel_cpu_true (not MKL-linked?)";
        if (CachedFlag(function) is not { } flag) return "unrecognised mkl_serv_intel_cpu_true (another MKL build)";

        switch (Marshal.ReadInt32(flag))
        {
            case < 0: Marshal.WriteInt32(flag, 1); break;   // not asked yet: MKL will read "Intel"
            case 0: return "MKL had already chosen its kernels (a BLAS call ran before this)";
        }
        _seeded = true;
        return Avx512F.IsSupported ? "AMD AVX-512 CPU: MKL's AVX-512 kernels" : "AMD AVX2 CPU: MKL's AVX2 kernels";
    }

    /// <summary>
    /// The function opens with <c>mov eax, [rip+d]; test eax, eax; js compute; ret</c>: it returns the cached answer
    /// unless the cache is negative. Returns the cache's address, or null when the bytes are anything else.
    /// </summary>
    static nint? CachedFlag(nint function)
    {
        ReadOnlySpan<byte> opening = [0x8B, 0x05], after = [0x85, 0xC0, 0x78, 0x01, 0xC3];
        for (var i = 0; i < opening.Length; i++) if (Marshal.ReadByte(function, i) != opening[i]) return null;
        for (var i = 0; i < after.Length; i++) if (Marshal.ReadByte(function, 6 + i) != after[i]) return null;
        return function + 6 + Marshal.ReadInt32(function, 2);
    }

    static bool IsAmd()
    {
        if (!X86Base.IsSupported) return false;
        var (_, ebx, ecx, edx) = X86Base.CpuId(0, 0);
        Span<int> vendor = [ebx, edx, ecx];
        return System.Text.Encoding.ASCII.GetString(MemoryMarshal.AsBytes(vendor)) == "AuthenticAMD";
    }
}
