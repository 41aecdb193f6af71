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
