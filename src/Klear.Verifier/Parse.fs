/// LaTeX of competition answers -> `Expr`. A hand-written recursive-descent parser: LaTeX's implicit multiplication
/// and one-character arguments (`\frac94`, `x^23`) are easier to get right here than in a combinator grammar, and
/// depth and token limits keep every input bounded.
module Klear.Verifier.Parse

open System
open Klear.Verifier.Rational
open Klear.Verifier.Tokens

let private half = Num { Num = Numerics.BigInteger.One; Den = Numerics.BigInteger 2 }

let private numberOf (text: string) =
    match ofDecimalString text with
    | Some q -> if text.Contains '.' then Float q else Num q
    | None -> fail "number too long"

let private asItem (e: Expr) =
    match Expr.expandPm e with
    | [ x ] -> x
    | xs -> FSet xs

let private flattenSet (items: Expr list) =
    items |> List.collect (fun e -> match asItem e with FSet xs -> xs | x -> [ x ])

let private isWholeLiteral (e: Expr) =
    match e with
    | Num q -> isInteger q
    | Mul [ Num m; Num q ] -> m = ofInt -1 && isInteger q
    | _ -> false

type private Cursor(toks: Tok[]) =
    let mutable pos = 0
    let mutable depth = 0
    member _.Peek = toks.[pos]
    member _.PeekAt k = if pos + k < toks.Length then toks.[pos + k] else TEnd
    member _.Next() = let t = toks.[pos] in (if pos < toks.Length - 1 then pos <- pos + 1); t
    /// `\frac94`: a one-character argument taken from the front of a digit run, the rest left for later.
    member _.SplitFirstDigit() =
        match toks.[pos] with
        | TNum s when s.Length > 1 && Char.IsAsciiDigit s.[0] ->
            toks.[pos] <- TNum(s.Substring 1)
            TNum(s.Substring(0, 1))
        | t -> (if pos < toks.Length - 1 then pos <- pos + 1); t
    member _.Enter() =
        depth <- depth + 1
        if depth > maxDepth then fail "too deep"
    member _.Leave() = depth <- depth - 1
    member c.IsSym s = (match c.Peek with TSym t -> t = s | _ -> false)
    member c.IsCmd s = (match c.Peek with TCmd t -> t = s | _ -> false)
    member c.Expect s = if c.IsSym s then c.Next() |> ignore else fail "expected symbol"

let private parseTokens (toks: Tok[]) : Expr =
    let c = Cursor toks
    let rec top () : Expr =
        // `p=5,q=2;p=7,q=2` is a list of solutions, each a group; `-12;-11` or `19, 46; 82` is one flat list.
        let groups = sepBy ";" commaList
        match groups with
        | [ g ] -> g
        | FSet first :: _ as gs when first.Length >= 2 && gs |> List.forall (fun g -> match g with FSet xs -> xs.Length = first.Length | _ -> false) ->
            FSet gs
        | gs -> FSet(flattenSet gs)
    and sepBy (sep: string) (item: unit -> Expr) =
        let first = item ()
        let rest = ResizeArray [ first ]
        while c.IsSym sep do
            c.Next() |> ignore
            if not (c.IsSym sep || c.IsSym ";" || c.Peek = TEnd || c.IsSym "}" || c.IsSym ")") then rest.Add(item ())
        List.ofSeq rest
    and commaList () =
        match sepBy "," relation with
        | [ x ] -> asItem x
        | xs -> FSet(flattenSet xs)
    and relOf (t: Tok) =
        match t with
        | TSym s when relSyms.ContainsKey s -> Some relSyms.[s]
        | TCmd s when relCmds.ContainsKey s -> Some relCmds.[s]
        | _ -> None
    and relation () : Expr =
        let first = union ()
        if c.IsCmd "in" then
            c.Next() |> ignore
            union () // "x \in S" answers S
        else
            let links = ResizeArray()
            let approx = ResizeArray<bool>()
            let mutable left = first
            while (relOf c.Peek).IsSome do
                approx.Add(c.IsCmd "approx")
                let op = (relOf (c.Next())).Value
                let right = union ()
                links.Add(Rel(op, left, right))
                left <- right
            // `x = 1/3 \approx 0.33`: the exact value comes before the approximation, so a trailing \approx
            // is dropped from a chain (alone, `x \approx 11` still says x = 11).
            while links.Count > 1 && approx.[links.Count - 1] do
                links.RemoveAt(links.Count - 1)
                approx.RemoveAt(approx.Count - 1)
            match List.ofSeq links with
            | [] -> first
            | [ r ] -> r
            | rs -> And rs
    and union () =
        let first = additive ()
        if c.IsCmd "cup" then
            let parts = ResizeArray [ first ]
            while c.IsCmd "cup" do
                c.Next() |> ignore
                parts.Add(additive ())
            Union(List.ofSeq parts)
        else first
    and additive () =
        let terms = ResizeArray [ term () ]
        let mutable go = true
        while go do
            match c.Peek with
            | TSym "+" -> c.Next() |> ignore; terms.Add(term ())
            | TSym "-" -> c.Next() |> ignore; terms.Add(Expr.neg (term ()))
            | TCmd("pm" | "mp") ->
                c.Next() |> ignore
                let left = if terms.Count = 1 then terms.[0] else Add(List.ofSeq terms)
                terms.Clear()
                terms.Add(PlusMinus(left, term ()))
            | _ -> go <- false
        if terms.Count = 1 then terms.[0] else Add(List.ofSeq terms)
    and startsOperand (t: Tok) =
        match t with
        | TNum _ | TLetter _ -> true
        | TCmd name -> not (infixCmds.Contains name)
        | TSym("(" | "{" | "\\{") -> true
        | _ -> false
    and term () =
        let factors = ResizeArray [ unary () ]
        let mutable go = true
        while go do
            match c.Peek with
            | TSym "*" | TCmd("cdot" | "times") -> c.Next() |> ignore; factors.Add(unary ())
            // A ratio 7:32 is a quotient.
            | TSym("/" | ":") | TCmd "div" -> c.Next() |> ignore; factors.Add(Pow(unary (), Expr.minusOne))
            | TCmd "frac" when factors.Count = 1 && isWholeLiteral factors.[0] ->
                // A mixed number 2\frac{1}{3} is 2 + 1/3 (and -2\frac{1}{3} is -(2 + 1/3)), not a product.
                let whole = factors.[0]
                let frac = power ()
                factors.[0] <-
                    match whole with
                    | Mul [ m; w ] -> Mul [ m; Add [ w; frac ] ]
                    | w -> Add [ w; frac ]
            | t when startsOperand t -> factors.Add(power ())
            | _ -> go <- false
        if factors.Count = 1 then factors.[0] else Mul(List.ofSeq factors)
    and unary () =
        // Signs nest without brackets (`----1`), so they count towards the depth limit too.
        c.Enter()
        let r =
            match c.Peek with
            | TSym "-" -> c.Next() |> ignore; Expr.neg (unary ())
            | TSym "+" -> c.Next() |> ignore; unary ()
            | TCmd("pm" | "mp") -> c.Next() |> ignore; PlusMinus(Num zero, unary ())
            | _ -> power ()
        c.Leave()
        r
    and power () =
        let b = postfix ()
        if c.IsSym "^" then
            c.Next() |> ignore
            let e = scriptArg ()
            let p = Pow(b, e)
            if c.IsSym "!" then (c.Next() |> ignore; Fn("factorial", [ p ])) else p
        else b
    and postfix () =
        let mutable p = primary ()
        let mutable go = true
        while go do
            match c.Peek with
            | TSym "!" when (match c.PeekAt 1 with TSym "=" -> false | _ -> true) ->
                c.Next() |> ignore
                p <- Fn("factorial", [ p ])
            | TSym "%" -> c.Next() |> ignore; p <- Pct p
            | _ -> go <- false
        p
    /// The argument of ^, \frac, \sqrt: a braced group or one character.
    and scriptArg () : Expr =
        c.Enter()
        let r =
            match c.Peek with
            | TSym "{" -> group ()
            | TSym "-" -> c.Next() |> ignore; Expr.neg (scriptArg ())
            | TNum _ ->
                match c.SplitFirstDigit() with
                | TNum d -> numberOf d
                | _ -> fail "digit"
            | TLetter _ | TCmd _ -> primary ()
            | TSym "(" -> primary ()
            | _ -> fail "missing argument"
        c.Leave()
        r
    and group () =
        c.Expect "{"
        if c.IsSym "}" then fail "empty group"
        let e = top ()
        c.Expect "}"
        e
    and subscriptName () : string =
        // x_1, x_{12}, F_{n-k-1}: the subscript is part of the name.
        c.Next() |> ignore
        match c.Peek with
        | TSym "{" ->
            c.Next() |> ignore
            let sb = Text.StringBuilder()
            let mutable d = 1
            while d > 0 do
                match c.Next() with
                | TEnd -> fail "unclosed subscript"
                | TSym "{" -> d <- d + 1
                | TSym "}" -> d <- d - 1; (if d > 0 then sb.Append('}') |> ignore)
                | TNum s -> sb.Append(s) |> ignore
                | TLetter l -> sb.Append(l) |> ignore
                | TCmd s -> sb.Append('\\').Append(s) |> ignore
                | TSym s -> sb.Append(s) |> ignore
            sb.ToString()
        | TNum _ -> (match c.SplitFirstDigit() with TNum d -> d | _ -> "")
        | TLetter l -> c.Next() |> ignore; string l
        | TCmd s -> c.Next() |> ignore; s
        | _ -> fail "bad subscript"
    and parenArgs () =
        c.Expect "("
        let args = sepBy "," relation
        c.Expect ")"
        args
    and funcArg () =
        match c.Peek with
        | TSym "(" -> (parenArgs ()) |> List.head
        | TSym "{" -> group ()
        | _ -> power ()
    and primary () : Expr =
        c.Enter()
        let r =
            match c.Next() with
            | TNum s -> numberOf s
            | TLetter l ->
                if c.IsSym "_" then Sym(string l + "_" + subscriptName ())
                elif functionLetters.Contains l && c.IsSym "(" then Fn("user:" + string l, parenArgs ())
                elif l = 'e' then Const "e"
                elif l = 'i' then Const "i"
                else Sym(string l)
            | TSym("(" | "[" as opener) -> bracketed (opener = "(")
            | TSym "{" ->
                if c.IsSym "}" then fail "empty group"
                let e = top ()
                c.Expect "}"
                e
            | TSym "\\{" ->
                if c.IsSym "\\}" then (c.Next() |> ignore; FSet [])
                else
                    let items = sepBy "," relation
                    let more = if c.IsSym ";" then (c.Next() |> ignore; sepBy "," relation) else []
                    if not (c.IsSym "\\}") then fail "unclosed set"
                    c.Next() |> ignore
                    FSet(flattenSet (items @ more))
            | TSym "|" ->
                let e = additive ()
                c.Expect "|"
                Fn("abs", [ e ])
            | TCmd cmd -> command cmd
            | _ -> fail "unexpected token"
        c.Leave()
        r
    and bracketed (leftOpen: bool) =
        // `(0;-2;6)` separates coordinates by semicolons.
        let items = sepBy "," relation
        let items = if c.IsSym ";" then items @ (c.Next() |> ignore; sepBy ";" relation) else items
        let rightOpen =
            match c.Next() with
            | TSym ")" -> true
            | TSym "]" -> false
            | _ -> fail "unclosed bracket"
        match items with
        | [ x ] -> x
        | [ a; b ] when leftOpen && rightOpen -> Pair(a, b)
        | [ a; b ] -> Interval(leftOpen, a, b, rightOpen)
        | xs -> Tup xs
    and command (cmd: string) : Expr =
        match cmd with
        | "frac" ->
            let a = scriptArg ()
            let b = scriptArg ()
            Mul [ a; Pow(b, Expr.minusOne) ]
        | "binom" ->
            let a = scriptArg ()
            let b = scriptArg ()
            Fn("binom", [ a; b ])
        | "sqrt" ->
            if c.IsSym "[" then
                c.Next() |> ignore
                let n = top ()
                c.Expect "]"
                Pow(scriptArg (), Pow(n, Expr.minusOne))
            else Pow(scriptArg (), half)
        | "pi" -> Const "pi"
        | "infty" | "infin" -> Const "oo"
        | "imath" -> Const "i"
        | "emptyset" | "varnothing" -> FSet []
        | "cdots" | "ldots" | "dots" -> Sym "..."
        | "mathbbR" -> Interval(true, Expr.neg (Const "oo"), Const "oo", true)
        | g when greek.Contains g ->
            if c.IsSym "_" then Sym(g + "_" + subscriptName ()) else Sym g
        | a when accents.Contains a -> scriptArg ()
        | f when functions.Contains f ->
            let mutable exponent = None
            let mutable name = f
            if c.IsSym "_" then name <- f + "_" + subscriptName ()
            if c.IsSym "^" then (c.Next() |> ignore; exponent <- Some(scriptArg ()))
            if c.IsSym "_" then name <- f + "_" + subscriptName ()
            let arg =
                if c.IsSym "(" then
                    match parenArgs () with
                    | [ a ] -> [ a ]
                    | args -> args
                else [ funcArg () ]
            let call = Fn(name, arg)
            match exponent with
            | Some e -> Pow(call, e)
            | None -> call
        | "lfloor" | "lceil" ->
            let e = additive ()
            match c.Next() with
            | TCmd("rfloor" | "rceil") -> Fn(cmd.Substring 1, [ e ])
            | _ -> fail "unclosed floor"
        | "lvert" | "vert" ->
            let e = additive ()
            match c.Next() with
            | TCmd("rvert" | "vert") -> Fn("abs", [ e ])
            | _ -> fail "unclosed abs"
        | "sum" | "prod" ->
            let lower = if c.IsSym "_" then (c.Next() |> ignore; scriptArg ()) else Sym ""
            let upper = if c.IsSym "^" then (c.Next() |> ignore; scriptArg ()) else Sym ""
            Fn(cmd, [ lower; upper; term () ])
        | "begin" -> matrix ()
        | _ -> fail "unknown command"
    and envName () =
        c.Expect "{"
        let sb = Text.StringBuilder()
        while not (c.IsSym "}") do
            match c.Next() with
            | TLetter l -> sb.Append(l) |> ignore
            | TSym "*" -> ()
            | _ -> fail "bad environment"
        c.Next() |> ignore
        sb.ToString()
    and matrix () =
        let name = envName ()
        if name = "array" && c.IsSym "{" then
            while not (c.IsSym "}" || c.Peek = TEnd) do c.Next() |> ignore
            c.Next() |> ignore
        let rows = ResizeArray<Expr list>()
        let cells = ResizeArray<Expr>()
        let mutable go = true
        while go do
            match c.Peek with
            | TCmd "end" ->
                c.Next() |> ignore
                envName () |> ignore
                if cells.Count > 0 then rows.Add(List.ofSeq cells)
                go <- false
            | TSym "&" -> c.Next() |> ignore
            | TSym "\\\\" ->
                c.Next() |> ignore
                rows.Add(List.ofSeq cells)
                cells.Clear()
            | TEnd -> fail "unclosed matrix"
            | _ -> cells.Add(relation ())
        let rows = rows |> Seq.filter (fun r -> not r.IsEmpty) |> List.ofSeq
        match rows with
        | [] -> fail "empty matrix"
        | r :: rest when rest |> List.forall (fun x -> x.Length = r.Length) -> Matrix rows
        | _ -> fail "ragged matrix"
    let e = top ()
    if c.Peek <> TEnd then fail "trailing input"
    e

/// Parses normalised LaTeX; None when it is not a formula we understand (the caller then compares strings).
let parseLatex (s: string) : Expr option =
    if String.IsNullOrWhiteSpace s || s.Length > 20000 then None
    else
        try Some(parseTokens (tokenize s))
        with
        | ParseFail _ -> None
        | :? IndexOutOfRangeException -> None
