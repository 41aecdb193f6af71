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
