/// Minerva-style clean-up of an extracted LaTeX answer (as in the DAPO/verl rule rewards and Math-Verify's
/// `normalize_latex`), done with linear scans: answers come from models and must not be able to stall a regex.
module Klear.Verifier.Normalise

open System
open System.Text

let private isLetter (c: char) = Char.IsAsciiLetter c

/// For every `{`, the index of its `}` (-1 when unbalanced), in one pass: looking each one up separately would be
/// quadratic on a hostile string of thousands of unclosed `\boxed{`.
let closingBraces (s: string) : int[] =
    let closes = Array.create s.Length -1
    let stack = Collections.Generic.Stack<int>()
    let mutable i = 0
    while i < s.Length do
        match s.[i] with
        | '\\' -> i <- i + 1
        | '{' -> stack.Push i
        | '}' -> if stack.Count > 0 then closes.[stack.Pop()] <- i
        | _ -> ()
        i <- i + 1
    closes

/// Spans (start of `\boxed`, content start, closing brace) of every balanced `\boxed{...}` at any depth, in order;
/// an unclosed box is skipped, so it cannot hide a later one.
let boxedSpans (s: string) : (int * int * int) list =
    let closes = lazy (closingBraces s)
    let rec go (from: int) acc =
        let k = s.IndexOf("\\boxed", from, StringComparison.Ordinal)
        if k < 0 then List.rev acc
        else
            let mutable j = k + 6
            while j < s.Length && s.[j] = ' ' do j <- j + 1
            if j < s.Length && s.[j] = '{' then
                let close = closes.Force().[j]
                if close < 0 then go (j + 1) acc else go (j + 1) ((k, j + 1, close) :: acc)
            else go (k + 6) acc
    go 0 []

/// The outermost boxes only: `\boxed{\boxed{1}}` is one answer.
let private outerBoxes (s: string) =
    boxedSpans s
    |> List.fold (fun (acc, lastEnd) (k, c, e) -> if k < lastEnd then acc, lastEnd else (k, c, e) :: acc, e) ([], -1)
    |> fst
    |> List.rev

let private isSeparatorText (t: string) =
    let t = t.Replace("\\quad", " ").Replace("\\qquad", " ").Replace("\\text{and}", " ").Replace("\\text{ and }", " ")
    t.Replace(",", " ").Replace("and", " ").Replace("\\,", " ").Replace(";", " ").Trim().Length = 0

/// Math-Verify's boxed="last", widened to a trailing run of boxes joined by commas or "and" (`\boxed{1},\boxed{2}`),
/// which the reference also reads as one list.
let lastBoxedRun (s: string) : string option =
    match outerBoxes s |> List.rev with
    | [] -> None
    | (k, c, e) :: earlier ->
        let rec collect (start: int) acc rest =
            match rest with
            | (k2, c2, e2) :: more when isSeparatorText (s.Substring(e2 + 1, start - e2 - 1)) ->
                collect k2 (s.Substring(c2, e2 - c2) :: acc) more
            | _ -> acc
        Some(String.Join(", ", collect k [ s.Substring(c, e - c) ] earlier))

/// Math-Verify's boxed="all" for a math environment: when it holds boxes, only their contents count.
let allBoxed (s: string) : string option =
    match outerBoxes s with
    | [] -> None
    | boxes -> Some(String.Join(", ", boxes |> List.map (fun (_, c, e) -> s.Substring(c, e - c))))

/// Replaces `\name` where it is a whole command (not the head of a longer one such as `\leftarrow`).
let replaceCommand (name: string) (repl: string) (s: string) =
    let pat = "\\" + name
    if not (s.Contains(pat, StringComparison.Ordinal)) then s
    else
        let sb = StringBuilder(s.Length)
        let mutable i = 0
        while i < s.Length do
            if String.CompareOrdinal(s, i, pat, 0, pat.Length) = 0
               && (i + pat.Length >= s.Length || not (isLetter s.[i + pat.Length])) then
                sb.Append(repl) |> ignore
                i <- i + pat.Length
            else
                sb.Append(s.[i]) |> ignore
                i <- i + 1
        sb.ToString()

let private unitWords =
    set [ "cm"; "m"; "km"; "mm"; "meter"; "meters"; "metre"; "metres"; "centimeter"; "centimeters"; "kilometer"
          "kilometers"; "millimeter"; "millimeters"; "inch"; "inches"; "in"; "ft"; "foot"; "feet"; "yard"; "yards"
          "yd"; "mile"; "miles"; "mi"; "mph"; "second"; "seconds"; "sec"; "s"; "minute"; "minutes"; "min"; "hour"
          "hours"; "hr"; "hrs"; "h"; "day"; "days"; "week"; "weeks"; "month"; "months"; "year"; "years"; "degree"
          "degrees"; "dollar"; "dollars"; "cent"; "cents"; "unit"; "units"; "square"; "sq"; "cubic"; "kg"; "g"
          "gram"; "grams"; "pound"; "pounds"; "lb"; "lbs"; "liter"; "liters"; "litre"; "litres"; "l"; "ml"; "cup"
          "cups"; "ounce"; "ounces"; "oz"; "people"; "students"; "ways"; "times"; "points"; "per"; "of"; "and"; "mm^2" ]

let private isUnitText (t: string) =
    let words = t.Replace("^2", " ").Replace("^3", " ").Split([| ' '; '\t'; '\n'; '.' |], StringSplitOptions.RemoveEmptyEntries)
    words.Length > 0 && words |> Array.forall (fun w -> unitWords.Contains(w.ToLowerInvariant()))
    && not (words.Length = 1 && words.[0].ToLowerInvariant() = "and")

let private wrappers =
    [| "text"; "textbf"; "textit"; "textrm"; "textnormal"; "mathrm"; "mathbf"; "mathit"; "mathsf"; "mbox"
       "operatorname"; "boldsymbol"; "mathbb"; "mathcal"; "hbox" |]

/// Unwraps `\text{...}`-like commands; a wrapper holding only unit words disappears with a following `^2`/`^{3}`.
let rec private unwrapText (depth: int) (s: string) : string =
    if depth > 20 || not (s.Contains('\\')) then s
    else
        let sb = StringBuilder(s.Length)
        let closes = closingBraces s
        let mutable i = 0
        while i < s.Length do
            let mutable handled = false
            if s.[i] = '\\' then
                let mutable j = i + 1
                while j < s.Length && isLetter s.[j] do j <- j + 1
                let name = s.Substring(i + 1, j - i - 1)
                if Array.contains name wrappers then
                    let mutable k = j
                    while k < s.Length && s.[k] = ' ' do k <- k + 1
                    if k < s.Length && s.[k] = '{' then
                        let close = closes.[k]
                        if close > 0 then
                            let inner = unwrapText (depth + 1) (s.Substring(k + 1, close - k - 1))
                            let t = inner.Trim()
                            let mutable next = close + 1
                            if t = "and" || t = "or" then sb.Append(" ; ") |> ignore
                            elif isUnitText t && name <> "mathbb" then
                                // A unit's exponent (cm^2) goes with it.
                                if next < s.Length && s.[next] = '^' then
                                    if next + 1 < s.Length && s.[next + 1] = '{' then
                                        let c2 = closes.[next + 1]
                                        next <- if c2 > 0 then c2 + 1 else next
                                    elif next + 1 < s.Length then next <- next + 2
                            elif name = "mathbb" then sb.Append("\\mathbb").Append(t) |> ignore
                            else sb.Append(' ').Append(inner).Append(' ') |> ignore
                            i <- next
                            handled <- true
            if not handled then
                sb.Append(s.[i]) |> ignore
                i <- i + 1
        sb.ToString()

/// `,\!` between digit groups and `{,}` are thousands separators, never list commas.
let private dropThousandsSeparators (s: string) =
    let s = s.Replace("{,}", "")
    if not (s.Contains(",\\!")) then s
    else
        let sb = StringBuilder(s.Length)
        let mutable i = 0
        while i < s.Length do
            // `16,\!386` and `11,\! 111`: the comma, the thin negative space and any spaces go.
            let mutable j = i + 3
            while j < s.Length && s.[j] = ' ' do j <- j + 1
            if i + 3 < s.Length && s.[i] = ',' && s.[i + 1] = '\\' && s.[i + 2] = '!' && j < s.Length && Char.IsAsciiDigit s.[j] then
                i <- j
            else
                sb.Append(s.[i]) |> ignore
                i <- i + 1
        sb.ToString()

/// Strings written as non-raw Python literals reach us with doubled backslashes (`\\frac`); outside matrices, where
/// `\\` separates rows, a doubled backslash before a letter is one command.
let undoubleBackslashes (s: string) =
    if s.Contains("\\begin") || not (s.Contains("\\\\")) then s
    else
        let sb = StringBuilder(s.Length)
        let mutable i = 0
        while i < s.Length do
            if i + 2 < s.Length && s.[i] = '\\' && s.[i + 1] = '\\' && isLetter s.[i + 2] then
                sb.Append('\\') |> ignore
                i <- i + 2
            else
                sb.Append(s.[i]) |> ignore
                i <- i + 1
        sb.ToString()

/// `\!`, `\,`, `\;`, `\:`, `\>` and `\ ` become spaces; a row break `\\` is stepped over whole so its second
/// backslash is never read as the start of `\ `.
let private dropSpacing (s: string) =
    if not (s.Contains('\\')) then s
    else
        let sb = StringBuilder(s.Length)
        let mutable i = 0
        while i < s.Length do
            if s.[i] = '\\' && i + 1 < s.Length then
                match s.[i + 1] with
                | '\\' -> sb.Append("\\\\") |> ignore
                | '!' | ',' | ';' | ':' | '>' | ' ' -> sb.Append(' ') |> ignore
                | c -> sb.Append('\\').Append(c) |> ignore
                i <- i + 2
            else
                sb.Append(s.[i]) |> ignore
                i <- i + 1
        sb.ToString()

/// "1,000,000" or "-12,345.6" as the whole answer: one number with thousands separators, not a list.
let private isGroupedNumber (s: string) =
    let body = if s.StartsWith '-' then s.Substring 1 else s
    let intPart = (let d = body.IndexOf '.' in if d < 0 then body else body.Substring(0, d))
    let frac = body.Substring intPart.Length
    let groups = intPart.Split ','
    groups.Length > 1
    && groups.[0].Length >= 1 && groups.[0].Length <= 3
    && groups |> Array.forall (fun g -> g.Length > 0 && g |> Seq.forall Char.IsAsciiDigit)
    && groups |> Array.skip 1 |> Array.forall (fun g -> g.Length = 3)
    && (frac.Length = 0 || (frac.Length > 1 && frac.Substring 1 |> Seq.forall Char.IsAsciiDigit))

/// The full clean-up; `boxed` picks which boxes count when the text holds any.
let normalise (boxedLast: bool) (raw: string) : string =
    let s = undoubleBackslashes raw
    let s =
        let picked = if boxedLast then lastBoxedRun s else allBoxed s
        defaultArg picked s
    let s = s.Replace("\\dfrac", "\\frac").Replace("\\tfrac", "\\frac").Replace("\\cfrac", "\\frac")
    let s = s.Replace("\\dbinom", "\\binom").Replace("\\tbinom", "\\binom")
    let s =
        [ "left"; "right"; "displaystyle"; "bigl"; "bigr"; "Bigl"; "Bigr"; "big"; "Big"; "bigg"; "Bigg"; "middle" ]
        |> List.fold (fun acc c -> replaceCommand c "" acc) s
    let s = s.Replace("^{\\circ}", "").Replace("^\\circ", "").Replace("°", "")
    let s = s |> replaceCommand "circ" "" |> replaceCommand "degree" "" |> replaceCommand "qquad" " " |> replaceCommand "quad" " "
    let s = s.Replace("\\quad", " ") // `\quadx` in the wild: the space was forgotten
    let s = dropThousandsSeparators s
    let s = unwrapText 0 s
    let s = s.Replace("\\%", "%").Replace("\\$", "").Replace("$", "")
    let s = dropSpacing s
    let s = s.Replace("~", " ").Replace("\t", " ").Replace("\n", " ").Replace("\r", " ")
    let s = s.Replace("percentage", "%").Replace("percent", "%").Replace("pct", "%")
    // "and"/"or" join alternative answers, each of which may itself be a list: they separate like ";".
    let s = s.Replace(" and ", " ; ").Replace(" or ", " ; ").Replace(")or(", ");(").Replace(")and(", ");(")
    let s = s.Trim()
    // One sentence full stop or comma goes; an ellipsis (`1, 2, 3, ...`) is part of the answer.
    let s = if s.EndsWith '.' && not (s.EndsWith "..") then s.Substring(0, s.Length - 1).TrimEnd() else s
    let s = if s.EndsWith ',' then s.Substring(0, s.Length - 1).TrimEnd() else s
    if isGroupedNumber s then s.Replace(",", "") else s
