/// Math-Verify's `parse`: candidates are tried by priority group, rightmost first within a group; the first that
/// parses wins, and the text of the first candidate tried is kept as a string fallback.
module Klear.Verifier.Extract

open System
open Klear.Verifier.Scan

/// What one side of a comparison yields: parsed answers, then at most one string fallback.
type Extracted =
    | Parsed of Expr
    | Raw of string

/// Responses longer than this are cut to their tail, where the final answer is.
let maxInput = 120_000
/// Parse attempts per text; a response full of unparseable formulas must not cost one parse each.
let maxAttempts = 48

/// Math-Verify's `get_last_eq`: `a = b = c` (without lists) retried as its last right-hand side.
let private lastEquation (latex: string) =
    if latex.Contains ',' || latex.Contains ';' then None
    else
        let parts = ResizeArray<string>()
        let mutable from = 0
        for i in 0 .. latex.Length - 1 do
            if latex.[i] = '=' && (i = 0 || "\\<!>".IndexOf latex.[i - 1] < 0) then
                parts.Add(latex.Substring(from, i - from))
                from <- i + 1
        parts.Add(latex.Substring from)
        if parts.Count > 2 then Some parts.[parts.Count - 1] else None

let parseNormalised (latex: string) : Expr option =
    match Parse.parseLatex latex with
    | Some e -> Some e
    | None -> lastEquation latex |> Option.bind Parse.parseLatex

/// Longer than any formula the parser accepts: neither parsed nor kept as a string.
let private maxLatex = 20_000

/// A plain-boxed span may be long (it runs to the text's last brace); only its last box is kept, so it is exempt.
let private latexValue (boxedLast: bool) (content: string) (percent: bool) =
    if content.Length > maxLatex && not boxedLast then None, ""
    else
        let normalised = Normalise.normalise boxedLast content
        let parsed = parseNormalised normalised |> Option.map (fun e -> if percent then Pct e else e)
        parsed, normalised

let private flatten (values: Expr list) =
    FSet(values |> List.collect (fun v -> match v with FSet xs -> xs | x -> [ x ]))

/// "4 4/9": Math-Verify reads a whole number, one space and a fraction as a mixed number (40/9).
let private isMixedNumber (text: string) =
    let t = text.Trim().TrimEnd('.')
    let body = if t.StartsWith '-' || t.StartsWith '+' then t.Substring 1 else t
    let space = body.IndexOf ' '
    space > 0
    && (let whole, frac = body.Substring(0, space), body.Substring(space + 1)
        let slash = frac.IndexOf '/'
        whole |> Seq.forall Char.IsAsciiDigit
        && slash > 0 && slash < frac.Length - 1
        && (frac.Replace("/", "") |> Seq.forall Char.IsAsciiDigit))

/// The value of a candidate (None when it does not parse) and its string form.
let private evaluate (kind: CandidateKind) : Expr option * string =
    match kind with
    | LatexChain envs ->
        let results = envs |> List.map (fun e -> latexValue false e.Content e.Percent)
        match results with
        | [ single ] -> single
        | _ when results |> List.forall (fun (p, _) -> p.IsSome) ->
            Some(flatten (results |> List.map (fst >> Option.get))), String.Join(" and ", results |> List.map snd)
        | first :: _ -> first
        | [] -> None, ""
    | PlainBoxed text -> latexValue true text false
    | Number(integer, decimals, percent) ->
        let digits = integer.Replace(",", "").Replace(" ", "")
        let neg = digits.StartsWith '-'
        let digits = digits.TrimStart('-').TrimStart('0')
        let digits = (if neg then "-" else "") + (if digits.Length = 0 then "0" else digits)
        let text = digits + decimals.Replace(',', '.')
        match Rational.ofDecimalString text with
        | Some q ->
            let v = if decimals.Length > 0 then Float q else Num q
            Some(if percent then Pct v else v), text
        | None -> None, text
    | ExprText text when isMixedNumber text ->
        let parts = text.Trim().TrimEnd('.').Split([| ' '; '/' |], StringSplitOptions.RemoveEmptyEntries)
        let neg = parts.[0].StartsWith '-'
        let whole = Rational.ofDecimalString (parts.[0].TrimStart('+', '-'))
        let value =
            match whole, Rational.ofDecimalString parts.[1], Rational.ofDecimalString parts.[2] with
            | Some w, Some n, Some d when not (Rational.isZero d) ->
                Rational.div n d |> Option.bind (Rational.add w) |> Option.map (fun v -> Num(if neg then Rational.neg v else v))
            | _ -> None
        value, text.Trim().TrimEnd('.')
    | ExprText text ->
        // Python syntax: `2^10` is 2**10, not LaTeX's 2^1 0.
        let sb = Text.StringBuilder()
        // A sentence's full stop is not Python's trailing "2." float syntax.
        let src = text.Replace("**", "^").Replace('\n', ' ').TrimEnd().TrimEnd('.')
        let mutable i = 0
        while i < src.Length do
            if src.[i] = '^' && i + 1 < src.Length && Char.IsAsciiDigit src.[i + 1] then
                let mutable j = i + 1
                while j < src.Length && (Char.IsAsciiDigit src.[j] || src.[j] = '.') do j <- j + 1
                sb.Append("^{").Append(src, i + 1, j - i - 1).Append('}') |> ignore
                i <- j
            else
                sb.Append(src.[i]) |> ignore
                i <- i + 1
        Parse.parseLatex (sb.ToString()), text

let private overlaps (a0, a1) (b0, b1) = a0 < b1 && a1 > b0

let extractCandidates (candidates: Candidate list) : Extracted list =
    let all = List.toArray candidates
    let priorities = all |> Array.map (fun c -> c.Priority) |> Array.distinct |> Array.sort
    // Rightmost end first, then leftmost start, then the order the patterns were listed in (Python's stable sort).
    let before (i: int) (j: int) =
        let a, b = all.[i], all.[j]
        a.End > b.End || (a.End = b.End && (a.Start < b.Start || (a.Start = b.Start && i < j)))
    let mutable fallback = None
    let mutable value = None
    let mutable attempts = 0
    let failedSpans = ResizeArray<int * int>()
    let tried = Array.zeroCreate all.Length
    for priority in priorities do
        let mutable exhausted = false
        // Usually the first candidate parses, so the best one is picked each time instead of sorting the group.
        while value.IsNone && attempts < maxAttempts && not exhausted do
            let mutable best = -1
            for i in 0 .. all.Length - 1 do
                if not tried.[i] && all.[i].Priority = priority && (best < 0 || before i best) then best <- i
            if best < 0 then exhausted <- true
            else
                tried.[best] <- true
                let c = all.[best]
                let isExpr = match c.Kind with Number _ | ExprText _ -> true | _ -> false
                if not (isExpr && failedSpans.Exists(fun span -> overlaps span (c.ValueStart, c.ValueEnd))) then
                    attempts <- attempts + 1
                    let parsed, text = evaluate c.Kind
                    if fallback.IsNone && text.Length > 0 then fallback <- Some text
                    match parsed with
                    | Some v -> value <- Some v
                    | None ->
                        match c.Kind with
                        | LatexChain(e :: _) -> failedSpans.Add((e.Start, e.End))
                        | _ -> ()
    [ match value with Some v -> yield Parsed v | None -> ()
      match fallback with Some f -> yield Raw f | None -> () ]

/// Extracts the answers of one text under the options (both gold and model answer go through here).
let extract (opts: VerifyOptions) (text: string) : Extracted list =
    let text =
        if opts.AfterThink then
            let k = text.LastIndexOf("</think>", StringComparison.Ordinal)
            if k >= 0 then text.Substring(k + 8) else text
        else text
    let text = if text.Length > maxInput then text.Substring(text.Length - maxInput) else text
    let text = text.Replace("\\fbox{", "\\boxed{")
    let words = wordsOf text
    let latex = if List.contains LatexExtraction opts.Extraction then latexCandidates words text opts.BoxedMatchPriority else []
    let exprOn = List.contains ExprExtraction opts.Extraction
    // Two passes with the same outcome as one: the plain candidates (priority 300, most of them) are only collected
    // when the boxes and anchored answers have all failed, which in reward use they rarely do. Anchored expression
    // candidates need the word "answer".
    let anchored = if exprOn && words.Answer.Length > 0 then exprCandidates words text false else []
    let early = extractCandidates ((latex |> List.filter (fun c -> c.Priority < 300)) @ anchored)
    if early |> List.exists (fun e -> match e with Parsed _ -> true | Raw _ -> false) then early
    else extractCandidates (if exprOn then latex @ exprCandidates words text true else latex)
