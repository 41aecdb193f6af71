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

/// A random mini-batch for the loss tests: B rows of length T, random response lengths (row 1 empty), one advantage per
/// row (some 0), old log-probs within ±spread of the new ones (so ratios in [e^-spread, e^spread]).
type RandomBatch =
    { Leaf: torch.Tensor
      Old: torch.Tensor
      Adv: torch.Tensor
      Mask: torch.Tensor
      Correct: torch.Tensor }

let randomBatch (spread: float) (seed: int) (b: int) (t: int) =
    let rng = System.Random seed
    let u lo hi = lo + (hi - lo) * rng.NextDouble()
    let logp = Array.init (b * t) (fun _ -> u -3.0 -0.01)
    let old = logp |> Array.map (fun x -> x + u -spread spread)
    let advRow = Array.init b (fun _ -> if rng.Next 5 = 0 then 0.0 else u -2.0 2.0)
    let lengths = Array.init b (fun i -> if i = 1 then 0 else rng.Next(1, t + 1))
    let mask = Array.init (b * t) (fun k -> if k % t < lengths[k / t] then 1.0 else 0.0)
    let shape (xs: float[]) = torch.tensor(xs, dtype = torch.float64).reshape (int64 b, int64 t)
    { Leaf = (shape logp).requires_grad_ true
      Old = shape old
      Adv = shape (Array.init (b * t) (fun k -> advRow[k / t]))
      Mask = shape mask
      Correct = tensor1 (Array.init b (fun _ -> if rng.Next 2 = 0 then 1.0 else 0.0)) }
