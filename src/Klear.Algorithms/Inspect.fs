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

/// A whole batch's aggregated loss and d(loss)/d(logp) of each token, from autograd.
type InspectTotal =
    { Loss: float
      Grad: float list }

/// Evaluates an objective on hand-made tokens: old log-prob 0, log-prob ln r (which fixes CISPO's value). Tokens
/// are grouped into sequences by `seqIds` (consecutive equal ids form one sequence; `tokens` puts all in one).
/// Used by `klear loss inspect`, the README's region table and the notebooks.
module Inspect =
    let private check (pairs: (float * float) list) (seqIds: int list) =
        if pairs.IsEmpty then invalidArg "pairs" "at least one (ratio, advantage) pair is needed"
        pairs |> List.iter (fun (r, _) -> if not (r > 0.0) then invalidArg "ratio" $"ratios must be > 0, got {r}")
        if seqIds.Length <> pairs.Length then
            invalidArg "seqIds" $"{seqIds.Length} sequence ids for {pairs.Length} tokens; give one per token"

    /// (row, column) of each token: a new row starts wherever the id changes.
    let private placement (seqIds: int list) =
        let ids = Array.ofList seqIds
        let rows = Array.zeroCreate ids.Length
        let cols = Array.zeroCreate ids.Length
        for k in 1 .. ids.Length - 1 do
            if ids[k] = ids[k - 1] then rows[k] <- rows[k - 1]; cols[k] <- cols[k - 1] + 1
            else rows[k] <- rows[k - 1] + 1
        rows, cols

    /// The padded [S, L] batch of the tokens, its log-prob leaf, and where each token sits in it.
    let private batchOf (pairs: (float * float) list) (seqIds: int list) =
        let rows, cols = placement seqIds
        let s, l = int64 (Array.max rows + 1), int64 (Array.max cols + 1)
        let grid (f: int -> float) (fill: float) =
            let xs = Array.create (int (s * l)) fill
            pairs |> List.iteri (fun k _ -> xs[rows[k] * int l + cols[k]] <- f k)
            torch.tensor(xs, dtype = torch.float64).reshape (s, l)
        let ratios = pairs |> List.map fst |> Array.ofList
        let advs = pairs |> List.map snd |> Array.ofList
        let logp = (grid (fun k -> log ratios[k]) 0.0).requires_grad_ true
        let batch = PolicyBatch.create logp (torch.zeros (s, l, dtype = torch.float64)) (grid (fun k -> advs[k]) 0.0) (grid (fun _ -> 1.0) 0.0)
        logp, batch, (fun (t: Tensor) -> let v = t.detach().data<float>().ToArray() in List.init pairs.Length (fun k -> v[rows[k] * int l + cols[k]]))

    // -0.0 (from -A·0) prints as "-0"; report it as 0.
    let private clean (x: float) = if x = 0.0 then 0.0 else x

    /// Each token's loss and d(Σ of all token losses)/d(logp), tokens grouped into sequences by `seqIds`.
    let tokensIn (objective: PolicyObjective) (pairs: (float * float) list) (seqIds: int list) : TokenGradient list =
        check pairs seqIds
        use scope = torch.NewDisposeScope()
        let logp, batch, read = batchOf pairs seqIds
        let perToken = (Objective.tokenLoss objective batch).Loss
        (perToken * batch.Mask).sum().backward ()
        let losses = read perToken
        let grads = read logp.grad
        List.init pairs.Length (fun i ->
            let r, a = pairs[i]
            { Ratio = r; Advantage = a; Loss = clean losses[i]; Grad = clean grads[i] })

    /// One sequence of isolated tokens: each token's loss and d(Σ losses)/d(logp).
    let tokens (objective: PolicyObjective) (pairs: (float * float) list) : TokenGradient list =
        tokensIn objective pairs (List.replicate pairs.Length 0)

    /// The aggregated loss of the tokens (grouped by `seqIds`) under `mode` and its gradient per token. A
    /// sequence-level objective (GSPO, GMPO) needs one advantage per sequence: anything else is an error.
    let total (objective: PolicyObjective) (mode: Aggregation) (pairs: (float * float) list) (seqIds: int list) : InspectTotal =
        check pairs seqIds
        if Objective.isSequenceLevel objective then
            List.zip seqIds (List.map snd pairs)
            |> List.pairwise
            |> List.tryFind (fun ((s1, a1), (s2, a2)) -> s1 = s2 && a1 <> a2)
            |> Option.iter (fun ((s, a1), (_, a2)) ->
                invalidArg "advantage" $"sequence {s} has advantages {a1} and {a2}; a sequence-level objective needs one advantage per sequence")
        use scope = torch.NewDisposeScope()
        let logp, batch, read = batchOf pairs seqIds
        let out = Loss.evaluate (Loss.aggregate mode objective) (Loss.inputsOf batch)
        out.Total.backward ()
        { Loss = clean (out.Total.item<float> ()); Grad = read logp.grad |> List.map clean }

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

    /// `Inspect.tokensIn`: tokens grouped into sequences by `seqIds`.
    [<Extension>]
    static member InspectTokens(objective: PolicyObjective, pairs: struct (float * float) seq, seqIds: int seq) : IReadOnlyList<TokenGradient> =
        Inspect.tokensIn objective [ for struct (r, a) in pairs -> r, a ] (List.ofSeq seqIds)

    /// `Inspect.total`: the aggregated loss and its gradient per token.
    [<Extension>]
    static member InspectTotal(objective: PolicyObjective, mode: Aggregation, pairs: struct (float * float) seq, seqIds: int seq) =
        Inspect.total objective mode [ for struct (r, a) in pairs -> r, a ] (List.ofSeq seqIds)
