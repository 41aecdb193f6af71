/// Finds answer candidates in a model response the way Math-Verify's extraction regexes do (math environments,
/// `\boxed{}`, "final answer is ...", bare numbers and expressions), with linear hand-written scanners instead of
/// backtracking regexes. Each candidate carries Math-Verify's priority; lower is tried first.
module Klear.Verifier.Scan

open System

/// One math environment: `$$..$$`, `\[..\]`, `$..$`, `\(..\)`, ` [..] ` or a bare `\frac{1}{2}`.
type Env =
    { Start: int
      End: int
      Content: string
      Percent: bool
      HasBoxed: bool }

type CandidateKind =
    /// Up to six environments joined by "," / "and" / "or": several answers.
    | LatexChain of Env list
    /// `\boxed{` up to the last `}` of the text; the last box inside counts.
    | PlainBoxed of string
    | Number of integer: string * decimals: string * percent: bool
    | ExprText of string

type Candidate =
    { Priority: int
      Start: int
      End: int
      /// Where the value itself starts and ends (for Math-Verify's rule that a failed formula may not supply a number).
      ValueStart: int
      ValueEnd: int
      Kind: CandidateKind }

let private isWs (c: char) = Char.IsWhiteSpace c
let private at (s: string) (i: int) = if i >= 0 && i < s.Length then s.[i] else '\000'

let private startsAt (s: string) (i: int) (p: string) =
    i >= 0 && i + p.Length <= s.Length && String.CompareOrdinal(s, i, p, 0, p.Length) = 0

let private endsWithIgnoreCase (s: string) (endAt: int) (p: string) =
    endAt - p.Length >= 0 && String.Compare(s, endAt - p.Length, p, 0, p.Length, StringComparison.OrdinalIgnoreCase) = 0

/// `\s*(\\?%|percent|percentage|pct)` after an environment: returns the new end, or the old one.
let private percentSuffix (s: string) (i: int) =
    let mutable j = i
    while j < s.Length && isWs s.[j] do j <- j + 1
    let word (w: string) = j + w.Length <= s.Length && String.Compare(s, j, w, 0, w.Length, StringComparison.OrdinalIgnoreCase) = 0
    if startsAt s j "\\%" then j + 2
    elif at s j = '%' then j + 1
    elif word "percentage" then j + 10
    elif word "percent" then j + 7
    elif word "pct" then j + 3
    else i

let private signedNumberEnd (s: string) (i: int) =
    let mutable j = if at s i = '-' then i + 1 else i
    let d0 = j
    while Char.IsAsciiDigit(at s j) do j <- j + 1
    if j = d0 then -1
    elif (at s j = '.' || at s j = ',') && Char.IsAsciiDigit(at s (j + 1)) then
        j <- j + 1
        while Char.IsAsciiDigit(at s j) do j <- j + 1
        j
    else j

/// Closing position of one environment opening at i, or -1.
/// `deadZone.[k]`: a scan for closer k that found none stopped there, so an opener before that point finds none
/// either (its search region lies inside the failed one). This keeps 30 000 unclosed `\[` linear instead of quadratic.
let private envAt (s: string) (i: int) (allowFraction: bool) (deadZone: int[]) : (int * int * int) option =
    let notEscaped = at s (i - 1) <> '\\'
    let findClose (kind: int) (from: int) (closer: string) (stopAtNewline: bool) =
        if i < deadZone.[kind] then -1
        else
            let mutable j = from
            let mutable result = -1
            let mutable stopped = s.Length
            while result < 0 && j < s.Length do
                if stopAtNewline && s.[j] = '\n' then
                    stopped <- j
                    j <- s.Length
                elif startsAt s j closer && at s (j - 1) <> '\\' && j > from then result <- j
                elif s.[j] = '\\' && closer = "$" && at s (j + 1) = '$' then j <- j + 2
                else j <- j + 1
            if result < 0 then deadZone.[kind] <- stopped
            result
    // Dispatch on the first character: this runs at every position of long responses.
    match s.[i] with
    | '$' when notEscaped && at s (i + 1) = '$' ->
        let k = findClose 0 (i + 2) "$$" false
        if k > 0 then Some(i + 2, k, k + 2) else None
    | '$' when notEscaped && not (Char.IsAsciiDigit(at s (i - 1))) ->
        let k = findClose 1 (i + 1) "$" true
        if k > 0 then Some(i + 1, k, k + 1) else None
    | '\\' when notEscaped && at s (i + 1) = '[' ->
        let k = findClose 2 (i + 2) "\\]" false
        if k > 0 then Some(i + 2, k, k + 2) else None
    | '\\' when notEscaped && at s (i + 1) = '(' ->
        let k = findClose 3 (i + 2) "\\)" true
        if k > 0 then Some(i + 2, k, k + 2) else None
    | c when isWs c && at s (i + 1) = '[' ->
        let mutable j = i + 2
        while j < s.Length && s.[j] <> ']' && s.[j] <> '[' && s.[j] <> '\n' do j <- j + 1
        if j < s.Length && s.[j] = ']' && j > i + 2 && isWs (at s (j + 1)) then Some(i + 2, j, j + 2) else None
    | '\\' | '-' when allowFraction && (startsAt s i "\\frac{" || startsAt s i "-\\frac{") ->
        let a = if s.[i] = '-' then i + 6 else i + 5
        let e1 = signedNumberEnd s (a + 1)
        if e1 > 0 && at s e1 = '}' && at s (e1 + 1) = '{' then
            let e2 = signedNumberEnd s (e1 + 2)
            if e2 > 0 && at s e2 = '}' then Some(i, e2 + 1, e2 + 1) else None
        else None
    | _ -> None

let private envOpeners = [| '$'; '\\'; '['; '-' |]

/// All environments, left to right and non-overlapping, as Python's finditer over the alternation would see them.
let findEnvs (s: string) : Env list =
    let envs = ResizeArray()
    let deadZone = Array.zeroCreate 4
    let mutable i = 0
    while i < s.Length do
        // Jump to the next character that can open an environment (` [` opens at the space before the bracket).
        let k = s.IndexOfAny(envOpeners, i)
        if k < 0 then i <- s.Length
        else
            let start = if s.[k] = '[' && k - 1 >= i && isWs s.[k - 1] then k - 1 else k
            match envAt s start true deadZone with
            | Some(cs, ce, e) ->
                let content = s.Substring(cs, ce - cs)
                let e2 = percentSuffix s e
                envs.Add { Start = start; End = e2; Content = content; Percent = e2 <> e; HasBoxed = content.Contains("\\boxed") }
                i <- e2
            | None -> i <- k + 1
    List.ofSeq envs

/// `\s*(,?and|,?or|,)\s*` between two environments.
let private connects (s: string) (a: int) (b: int) =
    if b < a || b - a > 40 then false
    else
        let mutable i = a
        while i < b && isWs s.[i] do i <- i + 1
        let mutable j = b
        while j > i && isWs s.[j - 1] do j <- j - 1
        let from, len = i, j - i
        let is (lit: string) = lit.Length = len && String.CompareOrdinal(s, from, lit, 0, len) = 0
        is "," || is "and" || is ",and" || is "or" || is ",or" || is ", and" || is ", or"

let chains (s: string) (envs: Env list) : Env list list =
    let rec go envs acc =
        match envs with
        | [] -> List.rev acc
        | first :: rest ->
            let rec extend (chain: Env list) rest =
                match rest with
                | (next: Env) :: more when chain.Length < 6 && connects s (List.head chain).End next.Start ->
                    extend (next :: chain) more
                | _ -> List.rev chain, rest
            let chain, rest = extend [ first ] rest
            go rest (chain :: acc)
    go envs []

let private skipWsBack (s: string) (i: int) =
    let mutable j = i
    while j > 0 && isWs s.[j - 1] do j <- j - 1
    j

/// "final answer is" right before `start` (after `:?\s*`), and `\.?\s?I hope` right after `stop`.
let private finalAnswerIsHope (s: string) (start: int) (stop: int) =
    let j = skipWsBack s start
    let j = if at s (j - 1) = ':' then j - 1 else j
    let mutable k = stop
    if at s k = '.' then k <- k + 1
    if isWs (at s k) then k <- k + 1
    endsWithIgnoreCase s j "final answer is" && startsAt s k "I hope"

/// End positions of every case-insensitive occurrence of the anchor words, found once per text so that the
/// per-candidate look-behinds are binary searches.
type Words =
    { Answer: int[]
      AnswerColon: int[]
      Final: int[] }

let private wordEnds (lower: string) (word: string) : int[] =
    let ends = ResizeArray()
    let mutable k = lower.IndexOf(word, StringComparison.Ordinal)
    while k >= 0 do
        ends.Add(k + word.Length)
        k <- if k + 1 < lower.Length then lower.IndexOf(word, k + 1, StringComparison.Ordinal) else -1
    ends.ToArray()

/// One lower-cased copy and ordinal searches: case-insensitive search is slow under invariant globalization.
let wordsOf (s: string) =
    let lower = s.ToLowerInvariant()
    { Answer = wordEnds lower "answer"; AnswerColon = wordEnds lower "answer:"; Final = wordEnds lower "final answer" }

/// The last end in `ends` within [lo, hi], or -1.
let private lastEndIn (ends: int[]) (lo: int) (hi: int) =
    if ends.Length = 0 then -1
    else
        let i = Array.BinarySearch(ends, hi)
        let i = if i >= 0 then i else ~~~i - 1
        if i >= 0 && ends.[i] >= lo then ends.[i] else -1

/// `final answer.{0,100}?\s+is:?\s*` right before `start`.
let private finalAnswerJustIs (w: Words) (s: string) (start: int) (wsAfterIs: bool) =
    w.Final.Length > 0
    && (let j = if wsAfterIs then skipWsBack s start else start
        let j = if at s (j - 1) = ':' then j - 1 else j
        startsAt s (j - 2) "is"
        && (let isAt = j - 2
            let w0 = skipWsBack s isAt
            w0 < isAt && lastEndIn w.Final (w0 - 100) w0 >= 0))

/// "answer" (with ":" when `colon`) ending at most `reach` characters before `start`.
let private answerBefore (w: Words) (start: int) (reach: int) (colon: bool) =
    lastEndIn (if colon then w.AnswerColon else w.Answer) (start - reach) start >= 0

let latexCandidates (w: Words) (s: string) (boxedPriority: int) : Candidate list =
    let envs = findEnvs s
    let plain = ResizeArray<Candidate>()
    for chain in chains s envs do
        let first, last = List.head chain, List.last chain
        let mk p = { Priority = p; Start = first.Start; End = last.End; ValueStart = first.Start; ValueEnd = first.End; Kind = LatexChain chain }
        plain.Add(mk 300)
        if answerBefore w first.Start 50 false then plain.Add(mk 200)
        if answerBefore w first.Start 50 true then plain.Add(mk 100)
        if finalAnswerJustIs w s first.Start true then plain.Add(mk 50)
        if w.Final.Length > 0 && finalAnswerIsHope s first.Start last.End then plain.Add(mk 0)
    let boxed =
        if boxedPriority < 0 then []
        else
            let boxedChains =
                chains s (envs |> List.filter (fun e -> e.HasBoxed && not (e.Content.StartsWith("\\frac", StringComparison.Ordinal))))
                |> List.map (fun chain ->
                    let first, last = List.head chain, List.last chain
                    { Priority = boxedPriority; Start = first.Start; End = last.End; ValueStart = first.Start; ValueEnd = first.End; Kind = LatexChain chain })
            let plainBoxed =
                let k = s.IndexOf("\\boxed{", StringComparison.Ordinal)
                let close = s.LastIndexOf '}'
                if k >= 0 && close > k + 7 then
                    [ { Priority = boxedPriority; Start = k; End = close + 1; ValueStart = k; ValueEnd = close + 1
                        Kind = PlainBoxed(s.Substring(k, close + 1 - k)) } ]
                else []
            boxedChains @ plainBoxed
    List.ofSeq plain @ boxed

let private currency = "$€£¥₹₽₪₩₫฿"
let private isOp (c: char) = "+-*×/^()÷".IndexOf c >= 0
let private isExprChar (c: char) = Char.IsAsciiDigit c || c = '.' || isWs c || isOp c

let private digitsEndAt (s: string) (k: int) =
    let mutable e = k
    while Char.IsAsciiDigit(at s e) do e <- e + 1
    e

/// `(\*\*)?` then one of `.,:` whitespace `)` `$` or the end: where a bare expression may stop.
let private suffixAt (s: string) (e: int) =
    let e = if startsAt s e "**" then e + 2 else e
    e >= s.Length || (let c = s.[e] in c = '.' || c = ',' || c = ':' || isWs c || c = ')' || c = '$')

/// Number formats of Math-Verify's `number_re`, tried in its order at `j`; returns (integer, decimals, end).
let private numberAt (s: string) (j: int) : (string * string * int) option =
    if Char.IsAsciiDigit(at s (j - 1)) then None
    else
        let neg = at s j = '-'
        let d = if neg then j + 1 else j
        let digitsEnd k = digitsEndAt s k
        let sign = if neg then "-" else ""
        // 1: thousands groups "1,234,567(.89)"
        let lead = digitsEnd d
        let grouped =
            if lead > d && lead - d <= 3 && at s d <> '0' then
                let mutable e = lead
                let mutable groups = 0
                while (at s e = ',' || at s e = ' ') && digitsEnd (e + 1) - (e + 1) >= 3 do
                    e <- e + 4
                    groups <- groups + 1
                if groups > 0 then
                    let intPart = s.Substring(d, e - d)
                    if at s e = '.' && Char.IsAsciiDigit(at s (e + 1)) then
                        let de = digitsEnd (e + 1)
                        Some(sign + intPart, s.Substring(e, de - e), de)
                    else Some(sign + intPart, "", e)
                else None
            else None
        match grouped with
        | Some g -> Some g
        | None when lead > d ->
            if (at s lead = '.' || at s lead = ',') && Char.IsAsciiDigit(at s (lead + 1)) then
                let de = digitsEnd (lead + 1)
                Some(sign + s.Substring(d, lead - d), s.Substring(lead, de - lead), de)
            else Some(sign + s.Substring(d, lead - d), "", lead)
        | None when not neg && at s d = '.' && Char.IsAsciiDigit(at s (d + 1)) ->
            let de = digitsEnd (d + 1)
            Some("", s.Substring(d, de - d), de)
        | None -> None

/// `\s*(%|percent|\s*percentage|\s*pct)` after a bare number.
let private numberPercent (s: string) (i: int) =
    let mutable j = i
    while isWs (at s j) do j <- j + 1
    let word (w: string) = j + w.Length <= s.Length && String.CompareOrdinal(s, j, w, 0, w.Length) = 0
    if at s j = '%' then j + 1
    elif word "percentage" || word "Percentage" then j + 10
    elif word "percent" || word "Percent" then j + 7
    elif word "pct" || word "Pct" then j + 3
    else i

/// Per position: where the run of expression characters starting there ends, and where the next operator is.
/// Computed once per text so that each anchor costs O(1) instead of a rescan of its run.
type private Runs = { RunEnd: int[]; NextOp: int[] }

let private runsOf (s: string) =
    let n = s.Length
    let runEnd = Array.zeroCreate (n + 1)
    let nextOp = Array.zeroCreate (n + 1)
    runEnd.[n] <- n
    nextOp.[n] <- n
    for i in n - 1 .. -1 .. 0 do
        runEnd.[i] <- if isExprChar s.[i] then runEnd.[i + 1] else i
        nextOp.[i] <- if isOp s.[i] then i else nextOp.[i + 1]
    { RunEnd = runEnd; NextOp = nextOp }

/// Longest expression kept; longer runs are cut (the parser would refuse them anyway).
let private maxExpr = 2000

/// `-?\(?-?\d[chars]*[op][chars]+\)?` followed by a suffix; the longest such, as the greedy regex finds it.
let private exprAt (runs: Runs) (s: string) (j: int) : int option =
    let mutable d = j
    if at s d = '-' then d <- d + 1
    if at s d = '(' then d <- d + 1
    if at s d = '-' then d <- d + 1
    if not (Char.IsAsciiDigit(at s d)) then None
    else
        let runEnd = min runs.RunEnd.[d + 1] (d + maxExpr)
        // An operator with at least one character after it is required.
        let firstOp = runs.NextOp.[d + 1]
        if firstOp >= runEnd - 1 then None
        else
            let mutable result = None
            let mutable e = runEnd
            while result.IsNone && e >= firstOp + 2 do
                if suffixAt s e then result <- Some e
                e <- e - 1
            result

/// Plain numbers and simple expressions at anchors (start, whitespace or "="), with the prefixed priorities.
/// `plain = false` keeps only the anchored candidates (priority < 300), for the first, cheaper pass.
let exprCandidates (w: Words) (s: string) (plain: bool) : Candidate list =
    let found = ResizeArray<Candidate>()
    let runs = runsOf s
    let addWithPriorities (prefixAt: int) (valueStart: int) (stop: int) (kind: unit -> CandidateKind) =
        let notEq = (let mutable k = stop in (while isWs (at s k) do k <- k + 1); at s k <> '=')
        // `answer(:)?(.{0,100}=\s*|.{0,50}?)` before the value.
        let answerEq (ends: int[]) =
            let e = lastEndIn ends (prefixAt - 100) prefixAt
            e >= 0 && (prefixAt - e <= 50 || s.IndexOf('=', e, prefixAt - e) >= 0)
        let priorities =
            [ if plain then yield 300
              if notEq && answerEq w.Answer then yield 200
              if notEq && answerEq w.AnswerColon then yield 100
              if finalAnswerJustIs w s prefixAt false then yield 50
              if w.Final.Length > 0 && finalAnswerIsHope s prefixAt stop then yield 0 ]
        if not priorities.IsEmpty then
            let k = kind ()
            for p in priorities do
                found.Add { Priority = p; Start = prefixAt; End = stop; ValueStart = valueStart; ValueEnd = stop; Kind = k }
    // Two independent finditer passes (numbers, expressions), each non-overlapping.
    let mutable nextNumber = 0
    let mutable nextExpr = 0
    for a in -1 .. s.Length - 1 do
        if a < 0 || isWs s.[a] || s.[a] = '=' then
            let prefixAt = max a 0
            let a = a + 1
            let mutable j = a
            if startsAt s j "**" then j <- j + 2
            if prefixAt >= nextExpr then
                match exprAt runs s j with
                | Some e ->
                    let start = j
                    addWithPriorities prefixAt start e (fun () -> ExprText(s.Substring(start, e - start)))
                    nextExpr <- e
                | None -> ()
            if prefixAt >= nextNumber then
                let j = if j < s.Length && currency.IndexOf s.[j] >= 0 then j + 1 else j
                match numberAt s j with
                | Some(intPart, decimals, e) ->
                    let pe = numberPercent s e
                    addWithPriorities prefixAt j pe (fun () -> Number(intPart, decimals, pe <> e))
                    nextNumber <- pe
                | None -> ()
    List.ofSeq found
