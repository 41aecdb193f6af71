/// Tiny helpers for building float64 tensors from F# arrays and reading them back.
module Klear.Tests.TestTensors

open TorchSharp
open Expecto
open Klear.Algorithms

let tensor2 (rows: float[][]) =
    let b, t = rows.Length, rows[0].Length
    torch.tensor(Array.concat rows, dtype = torch.float64).reshape (int64 b, int64 t)

let tensor1 (xs: float[]) = torch.tensor (xs, dtype = torch.float64)

let values (t: torch.Tensor) = t.detach().contiguous().to_type(torch.float64).data<float>().ToArray()

let scalarOf (t: torch.Tensor) = t.to_type(torch.float64).item<float> ()

let metric (m: Metric) = scalarOf (Metric.value m)

/// Relative-and-absolute accuracy used across the numeric tests.
let tight = { absolute = 1e-9; relative = 1e-9 }
let close6 = { absolute = 1e-6; relative = 1e-6 }

let closeArrays (accuracy: Expecto.Accuracy) (actual: float[]) (expected: float[]) (message: string) =
    Expecto.Expect.equal actual.Length expected.Length $"{message}: lengths"
    Array.iteri2 (fun i a e -> Expecto.Expect.floatClose accuracy a e $"{message} [{i}]") actual expected

/// A policy batch where every token has old log-prob 0 and log-prob ln r, with a gradient leaf.
let tokensBatch (pairs: (float * float) list) =
    let n = int64 pairs.Length
    let logp = torch.tensor(pairs |> List.map (fst >> log) |> Array.ofList, dtype = torch.float64).reshape(1L, n).requires_grad_ true
    let batch =
        PolicyBatch.create logp (torch.zeros (1L, n, dtype = torch.float64))
            (torch.tensor(pairs |> List.map snd |> Array.ofList, dtype = torch.float64).reshape (1L, n))
            (torch.ones (1L, n, dtype = torch.float64))
    logp, batch
