/// The build patches TorchSharp's native wrapper so it loads on Debian 12 (build/TorchSharpGlibcxxFix.targets).
module Klear.Tests.NativeLoadTests

open Expecto
open TorchSharp

[<Tests>]
let tests =
    testList "native TorchSharp" [
        test "a tensor is created and a backward pass runs (libLibTorchSharp.so loads)" {
            use x = torch.tensor([| 1.0; 2.0; 3.0 |], dtype = torch.float64, requires_grad = true)
            use y = (x * x).sum()
            y.backward()
            let g = x.grad.data<float>().ToArray()
            Expect.sequenceEqual g [| 2.0; 4.0; 6.0 |] "d(sum x^2)/dx = 2x"
        }
    ]

module private Rusage =
    /// struct rusage: two timevals (4 longs), then ru_maxrss, ru_ixrss, ru_idrss, ru_isrss, ru_minflt (index 8).
    [<System.Runtime.InteropServices.DllImport("libc.so.6")>]
    extern int getrusage(int who, int64[] usage)

    /// Minor page faults of the calling thread (RUSAGE_THREAD), so other tests' threads do not count.
    let threadMinorFaults () =
        let usage = Array.zeroCreate<int64> 18
        if getrusage(1, usage) <> 0 then failwith "getrusage failed"
        usage[8]

[<Tests>]
let heapTests =
    testList "native heap" [
        test "after KeepFreedPages, 256 MiB freed in 64 KiB blocks is reused without fresh pages (glibc's default trims it and faults ~65,000 pages back in)" {
            Expect.isTrue (Klear.Host.Model.NativeHeap.KeepFreedPages()) "mallopt applied (glibc, no MALLOC_*_ variables set)"
            let block = 64 <<< 10
            let round () =
                let blocks =
                    Array.init 4096 (fun _ ->
                        let p = System.Runtime.InteropServices.Marshal.AllocHGlobal block
                        for offset in 0 .. 4096 .. block - 1 do System.Runtime.InteropServices.Marshal.WriteByte(p, offset, 1uy)
                        p)
                Array.iter System.Runtime.InteropServices.Marshal.FreeHGlobal blocks
            let first = Rusage.threadMinorFaults ()
            round ()
            let before = Rusage.threadMinorFaults ()
            Expect.isGreaterThan (before - first) 0L "the counter sees the first round's faults"
            for _ in 1 .. 3 do round ()
            let faults = (Rusage.threadMinorFaults () - before) / 3L
            Expect.isLessThan faults 1000L $"a round of reuse took {faults} minor faults (glibc's defaults: 49,000-65,000, measured)"
        }
    ]

module Mkl =
    /// MKL's own vendor answer, asked through the exported function (not through Klear's code).
    [<System.Runtime.InteropServices.UnmanagedFunctionPointer(System.Runtime.InteropServices.CallingConvention.Cdecl)>]
    type IntelCpuTrue = delegate of unit -> int

    let askMkl () =
        let lib = System.Runtime.InteropServices.NativeLibrary.Load "libtorch_cpu.so"
        let f = System.Runtime.InteropServices.NativeLibrary.GetExport(lib, "mkl_serv_intel_cpu_true")
        System.Runtime.InteropServices.Marshal.GetDelegateForFunctionPointer<IntelCpuTrue>(f).Invoke()

    /// The CPU as the kernel reports it: (vendor, flags) of the first processor.
    let cpu () =
        let lines = System.IO.File.ReadLines "/proc/cpuinfo" |> Seq.takeWhile (fun l -> l <> "") |> Seq.toArray
        let field (name: string) = lines |> Array.find (fun l -> l.StartsWith name) |> fun l -> (l.Split([| ':' |], 2)[1]).Trim()
        field "vendor_id", (field "flags").Split(' ')

    /// A one-step quickstart-size bench in a child process with KLEAR_MKL_DISPATCH set; its JSON line.
    let benchBlas (setting: string) =
        let psi = System.Diagnostics.ProcessStartInfo("dotnet", RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false)
        for a in [ System.IO.Path.Combine(System.AppContext.BaseDirectory, "klear.dll"); "model"; "bench"; "--preset"; "quickstart"; "--parts"; "train"; "--train-steps"; "1"; "--threads"; "1"; "--no-pytorch"; "--json" ] do
            psi.ArgumentList.Add a
        psi.Environment[Klear.Host.Model.MklDispatch.Variable] <- setting
        use p = System.Diagnostics.Process.Start psi
        let stdout = p.StandardOutput.ReadToEnd()
        let stderr = p.StandardError.ReadToEnd()
        p.WaitForExit()
        Expect.equal p.ExitCode 0 stderr
        stdout

    /// Where MklDispatch must act: AMD with AVX2 and FMA and without AVX-512, unless this process's
    /// KLEAR_MKL_DISPATCH says vendor (never) or intel (AVX-512 AMD CPUs too).
    let expectSeeded () =
        let vendor, flags = cpu ()
        let amdAvx2 = vendor = "AuthenticAMD" && Array.contains "avx2" flags && Array.contains "fma" flags
        match System.Environment.GetEnvironmentVariable Klear.Host.Model.MklDispatch.Variable with
        | "vendor" -> false
        | _ -> amdAvx2

    /// The label reports carry for what this process runs.
    let expectKernels seeded =
        let _, flags = cpu ()
        if not seeded then "vendor" elif Array.contains "avx512f" flags then "intel-avx512" else "intel-avx2"

[<Tests>]
let mklTests =
    testList "MKL dispatch" [
        test "on an AMD AVX2 CPU MKL answers 'Intel' (so it runs its AVX2 GEMM kernels); elsewhere it answers by the vendor" {
            // The test program seeds first thing, like klear; calling again is a no-op.
            let seeded = Klear.Host.Model.MklDispatch.PreferIntelKernels()
            let vendor, _ = Mkl.cpu ()
            Expect.equal seeded (Mkl.expectSeeded ()) $"seeded on this CPU ({vendor}): {Klear.Host.Model.MklDispatch.Reason}"
            Expect.equal Klear.Host.Model.MklDispatch.Kernels (Mkl.expectKernels seeded) "what reports record"
            let expected = if seeded || vendor = "GenuineIntel" then 1 else 0
            Expect.equal (Mkl.askMkl ()) expected "mkl_serv_intel_cpu_true's own answer"
        }
        test "a float32 GEMM on odd shapes (every kernel edge) equals the float64 product to fp32 rounding" {
            Klear.Host.Model.MklDispatch.PreferIntelKernels() |> ignore
            use g = new torch.Generator(7UL)
            for m, k, n in [ 67, 129, 71; 6144, 128, 384; 16, 256, 1024; 1, 512, 23 ] do
                use a = torch.randn([| int64 m; int64 k |], generator = g)
                use b = torch.randn([| int64 k; int64 n |], generator = g)
                use c = torch.matmul(a, b)
                use exact = torch.matmul(a.to_type torch.float64, b.to_type torch.float64)
                use err = (c.to_type torch.float64 - exact).abs().max()
                // Each output is a k-term sum of products of N(0,1) values: fp32 rounding stays well under 1e-5·k.
                Expect.isLessThan (err.item<float>()) (1e-5 * float k) $"[{m}×{k}]·[{k}×{n}] max error"
        }
        test $"{Klear.Host.Model.MklDispatch.Variable}=vendor keeps MKL's own choice (the bench says which kernels ran)" {
            Expect.stringContains (Mkl.benchBlas "vendor") "\"blas\":\"mkl (libtorch), vendor kernels\"" "the opt-out is honoured and reported"
        }
        test $"{Klear.Host.Model.MklDispatch.Variable}=intel seeds MKL on every AMD CPU with AVX2, AVX-512 ones too, and nowhere else" {
            let vendor, flags = Mkl.cpu ()
            let expected =
                if vendor <> "AuthenticAMD" || not (Array.contains "avx2" flags && Array.contains "fma" flags) then "vendor"
                elif Array.contains "avx512f" flags then "intel-avx512"
                else "intel-avx2"
            Expect.stringContains (Mkl.benchBlas "intel") $"\"blas\":\"mkl (libtorch), {expected} kernels\"" $"on this CPU ({vendor})"
        }
    ]
