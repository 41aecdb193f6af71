namespace Klear.Algorithms

open System.Collections.Generic
open System.Runtime.CompilerServices
open TorchSharp

/// One token's loss and d(loss)/d(logp), from autograd.
type TokenGradient =
    { Ratio: float
      Advantage: float
      Loss: float
      Grad: float }

/// Evaluates an objective on isolated tokens: old log-prob 0, log-prob ln r (which fixes CISPO's value).
/// Used by `klear loss inspect`, the README's region table and the notebooks.
module Inspect =
    let tokens (objective: PolicyObjective) (pairs: (float * float) list) : TokenGradient list =
        if pairs.IsEmpty then invalidArg "pairs" "at least one (ratio, advantage) pair is needed"
        pairs |> List.iter (fun (r, _) -> if not (r > 0.0) then invalidArg "ratio" $"ratios must be > 0, got {r}")
        use scope = torch.NewDisposeScope()
        let n = int64 pairs.Length
        let ratios = pairs |> List.map fst |> Array.ofList
        let advs = pairs |> List.map snd |> Array.ofList
        let logp = torch.tensor(ratios |> Array.map log, dtype = torch.float64).reshape(1L, n).requires_grad_ true
        let batch =
            PolicyBatch.create logp (torch.zeros(1L, n, dtype = torch.float64))
                (torch.tensor(advs, dtype = torch.float64).reshape (1L, n)) (torch.ones (1L, n, dtype = torch.float64))
        let perToken = (Objective.tokenLoss objective batch).Loss
        perToken.sum().backward ()
        let losses = perToken.detach().data<float>().ToArray()
        let grads = logp.grad.data<float>().ToArray()
        // -0.0 (from -A·0) prints as "-0"; report it as 0.
        let clean (x: float) = if x = 0.0 then 0.0 else x
        List.init pairs.Length (fun i ->
            { Ratio = ratios[i]; Advantage = advs[i]; Loss = clean losses[i]; Grad = clean grads[i] })

    /// The spec's regions as (label, advantage, ratio) probes for eps 0.2 / 0.28 and dual clip 10.
    let regionProbes =
        [ "A>0, r <= 1+eh", 1.0, 1.1
          "A>0, r > 1+eh", 1.0, 1.5
          "A<0, 1-el <= r <= c", -1.0, 1.5
          "A<0, r < 1-el", -1.0, 0.5
          "A<0, r > c", -1.0, 12.0
          "A = 0", 0.0, 1.5 ]

/// `Inspect.tokens` for C#, on (ratio, advantage) value tuples.
[<Extension; AbstractClass; Sealed>]
type InspectExtensions =
    /// One token per (ratio, advantage) pair: its loss and d(loss)/d(logp).
    [<Extension>]
    static member InspectTokens(objective: PolicyObjective, pairs: struct (float * float) seq) : IReadOnlyList<TokenGradient> =
        Inspect.tokens objective [ for struct (r, a) in pairs -> r, a ]
