/// Tokens of normalised LaTeX. Digit runs stay whole here; the parser splits them where LaTeX takes one character
/// (`\frac94`, `x^23`).
module Klear.Verifier.Tokens

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
    let toks = ResizeArray<Tok>(min (s.Length + 1) (maxTokens + 2))
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
            let two = if i + 1 < n && (c = '<' || c = '>' || c = '!' || c = '*') then s.Substring(i, 2) else ""
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

/// The command vocabulary the parser understands.
let relCmds =
    dict [ "le", Le; "leq", Le; "leqslant", Le; "ge", Ge; "geq", Ge; "geqslant", Ge; "lt", Lt; "gt", Gt
           "ne", Ne; "neq", Ne; "approx", Eq; "equiv", Eq; "simeq", Eq ]

let relSyms = dict [ "=", Eq; "<", Lt; ">", Gt; "<=", Le; ">=", Ge; "!=", Ne ]

/// Commands that never start an operand, so they stop implicit multiplication.
let infixCmds =
    set [ "cdot"; "times"; "div"; "pm"; "mp"; "in"; "cup"; "cap"; "to"; "end"; "rfloor"; "rceil"; "rvert"; "right"
          "setminus"; "land"; "lor"; "implies"; "iff"; "quad" ]
    + set relCmds.Keys

let greek =
    set [ "alpha"; "beta"; "gamma"; "delta"; "epsilon"; "varepsilon"; "zeta"; "eta"; "theta"; "vartheta"; "iota"
          "kappa"; "lambda"; "mu"; "nu"; "xi"; "rho"; "sigma"; "tau"; "upsilon"; "phi"; "varphi"; "chi"; "psi"
          "omega"; "Gamma"; "Delta"; "Theta"; "Lambda"; "Xi"; "Sigma"; "Phi"; "Psi"; "Omega"; "ell" ]

let functions =
    set [ "sin"; "cos"; "tan"; "cot"; "sec"; "csc"; "arcsin"; "arccos"; "arctan"; "sinh"; "cosh"; "tanh"; "log"
          "ln"; "lg"; "exp"; "gcd"; "lcm"; "max"; "min" ]

let accents = set [ "overline"; "vec"; "hat"; "bar"; "tilde"; "widehat"; "overrightarrow"; "underline" ]

/// Letters that read as a function when followed by "(": f(x), g(2), P(x).
let functionLetters = set [ 'f'; 'g'; 'h'; 'F'; 'G'; 'H'; 'P'; 'Q' ]
