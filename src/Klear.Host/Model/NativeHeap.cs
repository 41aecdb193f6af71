using System.Runtime.InteropServices;

namespace Klear.Host.Model;

/// <summary>
/// glibc's allocator settings for libtorch's CPU tensors. By default glibc serves blocks above a dynamic threshold with
/// fresh mmap pages and trims the heap top, so every step's activations arrive as new pages the kernel must zero:
/// 15% of a quickstart-size training step's samples were in the kernel's clear_page (perf, AMD EPYC Zen 5, one thread).
/// Keeping freed memory in the heap removes that; the cost is that the resident size stays at its peak.
/// </summary>
public static class NativeHeap
{
    const int M_TRIM_THRESHOLD = -1, M_TOP_PAD = -2, M_MMAP_THRESHOLD = -3;

    /// <summary>Blocks up to 32 MiB (glibc's largest mmap threshold) come from the heap, which is never trimmed back.</summary>
    public const int MmapThresholdBytes = 32 << 20;

    // libc.so.6, not "libc": on Debian libc.so is a linker script that dlopen refuses.
    [DllImport("libc.so.6", EntryPoint = "mallopt")]
    static extern int Mallopt(int parameter, int value);

    /// <summary>
    /// Applies the settings once per process; false when they were not applied (not glibc, or the user set any
    /// MALLOC_*_ environment variable, which then decides). Safe to call more than once.
    /// </summary>
    public static bool KeepFreedPages()
    {
        if (!OperatingSystem.IsLinux()) return false;
        foreach (var name in new[] { "MALLOC_TRIM_THRESHOLD_", "MALLOC_TOP_PAD_", "MALLOC_MMAP_THRESHOLD_" })
            if (!string.IsNullOrEmpty(Environment.GetEnvironmentVariable(name))) return false;
        try
        {
            return Mallopt(M_MMAP_THRESHOLD, MmapThresholdBytes) == 1
                && Mallopt(M_TRIM_THRESHOLD, int.MaxValue) == 1
                && Mallopt(M_TOP_PAD, 64 << 20) == 1;
        }
        catch (Exception e) when (e is DllNotFoundException or EntryPointNotFoundException)
        {
            return false;
        }
    }
}
