/// Tokens of normalised LaTeX. Digit runs stay whole here; the parser splits them where LaTeX takes one character
/// (`\frac94`, `x^23`).
module Klear.Algorithms.Verifier.Tokens

open System

type Tok =
    | TNum of string
    | TLetter of char
    | TCmd of string
    | TSym of string
    | TEnd

/// Longer answers are prose, not formulas; refusing them bounds parse time.
let maxTokens = 2500
let maxDepth = 120

exception ParseFail of string

let fail msg = raise (ParseFail msg)

let tokenize (s: string) : Tok[] =
    let toks = ResizeArray<Tok>()
    let mutable i = 0
    let n = s.Length
    while i < n do
        if toks.Count > maxTokens then fail "too long"
        let c = s.[i]
        if Char.IsWhiteSpace c then i <- i + 1
        elif Char.IsAsciiDigit c || (c = '.' && i + 1 < n && Char.IsAsciiDigit s.[i + 1]) then
            let start = i
            while i < n && Char.IsAsciiDigit s.[i] do i <- i + 1
            if i + 1 < n && s.[i] = '.' && Char.IsAsciiDigit s.[i + 1] then
                i <- i + 1
                while i < n && Char.IsAsciiDigit s.[i] do i <- i + 1
            toks.Add(TNum(s.Substring(start, i - start)))
        elif Char.IsAsciiLetter c then
            toks.Add(TLetter c)
            i <- i + 1
        elif c = '\\' then
            if i + 1 < n && Char.IsAsciiLetter s.[i + 1] then
                let start = i + 1
                i <- i + 1
                while i < n && Char.IsAsciiLetter s.[i] do i <- i + 1
                toks.Add(TCmd(s.Substring(start, i - start)))
            elif i + 1 < n then
                toks.Add(TSym(s.Substring(i, 2)))
                i <- i + 2
            else i <- i + 1
        else
            let two = if i + 1 < n then s.Substring(i, 2) else ""
            match two with
            | "<=" | ">=" | "!=" -> toks.Add(TSym two); i <- i + 2
            | "**" -> toks.Add(TSym "^"); i <- i + 2
            | _ ->
                let t =
                    match c with
                    | '×' | '·' -> TSym "*"
                    | '÷' -> TSym "/"
                    | '−' -> TSym "-"
                    | '≤' -> TSym "<="
                    | '≥' -> TSym ">="
                    | '≠' -> TSym "!="
                    | 'π' -> TCmd "pi"
                    | '∞' -> TCmd "infty"
                    | _ -> TSym(string c)
                toks.Add t
                i <- i + 1
    toks.Add TEnd
    toks.ToArray()

