/// The math answer verifier: does a model's answer match the gold answer, as Hugging Face's Math-Verify would judge?
namespace Klear.Verifier

open Klear.Verifier.Extract

module MathVerifier =
    let private comparePair (opts: VerifyOptions) (g: Extracted) (a: Extracted) =
        match g, a with
        | Parsed ge, Parsed ae -> Equivalence.exprEq opts ge ae
        | Raw gs, Raw s -> let gs, s = gs.Trim(), s.Trim() in gs.Length > 0 && gs = s
        | _ -> false

    let private unescapedDollar (s: string) =
        let mutable found = false
        for i in 0 .. s.Length - 1 do
            if s.[i] = '$' && (i = 0 || s.[i - 1] <> '\\') then found <- true
        found

    let private boxBare (opts: VerifyOptions) (gold: string) =
        let delimited =
            unescapedDollar gold || gold.Contains("\\(") || gold.Contains("\\[") || gold.Contains("\\boxed") || gold.Contains("\\fbox")
        if delimited || not (List.contains LatexExtraction opts.Extraction) then gold else "\\boxed{" + gold + "}"

    /// True when any answer extracted from `answer` matches any extracted from `gold`. Total: malformed or hostile
    /// input is "not equivalent", never an exception.
    let verify (opts: VerifyOptions) (gold: string) (answer: string) : bool =
        try
            if obj.ReferenceEquals(gold, null) || obj.ReferenceEquals(answer, null) then false
            else
                let golds = extract opts (if opts.BoxBareGold then boxBare opts gold else gold)
                if golds.IsEmpty then false
                else
                    let answers = extract opts answer
                    golds |> List.exists (fun g -> answers |> List.exists (comparePair opts g))
        with _ -> false

    /// True when the final answers of two responses are equivalent (checked both ways round): the grouping majority
    /// voting uses, so `\frac{10}{2}` and `5` vote together. Total, like `verify`.
    let sameAnswer (opts: VerifyOptions) (a: string) (b: string) : bool =
        try
            if obj.ReferenceEquals(a, null) || obj.ReferenceEquals(b, null) then false
            else
                let xs = extract opts a
                let ys = if xs.IsEmpty then [] else extract opts b
                xs |> List.exists (fun x -> ys |> List.exists (fun y -> comparePair opts x y || comparePair opts y x))
        with _ -> false

    let private describe (opts: VerifyOptions) (text: string) : string list =
        try
            extract opts text
            |> List.map (fun e ->
                match e with
                | Parsed x -> "parsed: " + Equivalence.canon x
                | Raw s -> "string: " + s)
        with ex -> [ "error: " + ex.Message ]

    /// What an answer extracts to: "parsed: <canonical form>" then "string: <text>" (diagnostics).
    let explain (opts: VerifyOptions) (answer: string) : string list = describe opts answer

    /// What a gold answer extracts to, after the bare-gold boxing `verify` applies.
    let explainGold (opts: VerifyOptions) (gold: string) : string list =
        describe opts (if opts.BoxBareGold then boxBare opts gold else gold)
