/// Math-Verify's `sympy_expr_eq` without sympy: relations, sets, intervals, tuples, matrices and scalars, with exact
/// rationals where both sides are rational, rounding when a decimal is involved, and sample points otherwise.
module Klear.Verifier.Equivalence

open System
open System.Numerics
open Klear.Verifier.Rational

/// A canonical text for structural equality: commutative operands and set elements sorted, so a+b = b+a.
let rec canon (e: Expr) : string =
    let sorted xs = xs |> List.map canon |> List.sort |> String.concat " "
    let ordered xs = xs |> List.map canon |> String.concat " "
    match e with
    | Num q -> toString q
    | Float q -> "f" + toString q
    | Sym s -> s
    | Const c -> "#" + c
    | Add xs -> $"(+ {sorted xs})"
    | Mul xs -> $"(* {sorted xs})"
    | Pow(a, b) -> $"(^ {canon a} {canon b})"
    | Fn(n, xs) -> $"({n} {ordered xs})"
    | Pct x -> $"(%% {canon x})"
    | PlusMinus(a, b) -> $"(pm {canon a} {canon b})"
    | Rel(op, a, b) ->
        let name = match op with Eq -> "=" | Ne -> "!=" | Lt -> "<" | Le -> "<=" | Gt -> ">" | Ge -> ">="
        $"({name} {canon a} {canon b})"
    | And xs -> $"(and {ordered xs})"
    | Tup xs -> $"(tuple {ordered xs})"
    | Pair(a, b) -> $"(pair {canon a} {canon b})"
    | FSet xs -> $"(set {sorted xs})"
    | Interval(lo, a, b, ro) -> $"(interval {lo} {canon a} {canon b} {ro})"
    | Union xs -> $"(union {sorted xs})"
    | Matrix rows -> rows |> List.map ordered |> String.concat "; " |> sprintf "(matrix %s)"

let private finite (z: Complex) = Double.IsFinite z.Real && Double.IsFinite z.Imaginary

let private close (tol: float) (a: Complex) (b: Complex) =
    Complex.Abs(a - b) <= tol * Math.Max(1.0, Math.Max(Complex.Abs a, Complex.Abs b))

/// Equal at every sample point where both sides have a value, and at least one such point exists.
let numericEq (tol: float) (g: Expr) (p: Expr) =
    let symbols = List.distinct (Eval.freeSymbols g @ Eval.freeSymbols p)
    let points = if symbols.IsEmpty then 1 else Eval.samplePoints.Length
    let mutable agree = 0
    let mutable ok = true
    for k in 0 .. points - 1 do
        if ok then
            let env = Eval.pointEnv symbols k
            let a, b = Eval.numeric env g, Eval.numeric env p
            match finite a, finite b with
            | true, true -> if close tol a b then agree <- agree + 1 else ok <- false
            | false, false -> ()
            | _ -> ok <- false
    ok && agree > 0

let private isAtomicNumber (e: Expr) =
    match e with
    | Num _ | Float _ | Pct(Num _ | Float _) -> true
    | Mul [ Num m; (Num _ | Float _) ] when m = ofInt -1 -> true
    | _ -> false

let private isAtomicFloat (e: Expr) =
    match e with
    | Float _ | Pct(Float _) -> true
    | Mul [ Num m; Float _ ] when m = ofInt -1 -> true
    | _ -> false

/// Math-Verify's `sympy_numeric_eq` then `sympy_symbolic_eq`, for scalars.
let scalarEq (opts: VerifyOptions) (g: Expr) (p: Expr) =
    match Eval.exact g, Eval.exact p with
    | Some a, Some b ->
        if isAtomicFloat g || isAtomicFloat p then
            roundTo opts.FloatRounding a = roundTo opts.FloatRounding b
        elif Eval.hasFloat g || Eval.hasFloat p then a = b || numericEq 1e-12 g p
        else a = b
    | _ ->
        if (isAtomicNumber g || isAtomicNumber p) && (isAtomicFloat g || isAtomicFloat p) then numericEq 1e-12 g p
        else numericEq 1e-9 g p

let private compareSymbols (g: Expr) (p: Expr) =
    let norm (s: string) = if s.Length > 1 then s.ToLowerInvariant() else s
    let concat xs =
        xs |> List.map (fun x -> match x with Sym s -> Some s | Const "e" -> Some "e" | _ -> None)
        |> fun l -> if List.forall Option.isSome l then Some(String.Join("", l |> List.choose id)) else None
    match g, p with
    | Sym s, Const "e" | Const "e", Sym s -> s.ToLowerInvariant() = "e"
    | Sym s, Mul xs | Mul xs, Sym s ->
        match concat xs with
        | Some c -> s.ToLowerInvariant() = c.ToLowerInvariant()
        | None -> false
    | Sym a, Sym b -> norm a = norm b
    | _ -> false

let private isConstant e = (Eval.freeSymbols e).IsEmpty

/// Equations are the same when one side-difference is a fixed non-zero multiple of the other
/// (2x + 4y - 3 = 0 and y = -x/2 + 3/4).
let proportional (a: Expr) (b: Expr) =
    let symbols = List.distinct (Eval.freeSymbols a @ Eval.freeSymbols b)
    if symbols.IsEmpty then false
    else
        let ratios =
            [ for k in 0 .. Eval.samplePoints.Length - 1 do
                  let env = Eval.pointEnv symbols k
                  let x, y = Eval.numeric env a, Eval.numeric env b
                  if finite x && finite y && Complex.Abs y > 1e-12 then yield x / y ]
        match ratios with
        | r0 :: rest when ratios.Length >= 3 && Complex.Abs r0 > 1e-12 -> rest |> List.forall (close 1e-9 r0)
        | _ -> false

let private negInf = Expr.neg (Const "oo")

/// A relation read as the set it describes: a < x <= b as (a, b], |z| between bounds as two intervals, x > c as
/// (c, oo).
let asSet (r: Expr) : Expr option =
    let lowerFirst op = op = Lt || op = Le
    let upperFirst op = op = Gt || op = Ge
    let isStrict op = op = Lt || op = Gt
    match r with
    | And [ Rel(o1, a, m); Rel(o2, _, b) ] when isConstant a && isConstant b && not (isConstant m) ->
        let lo, hi, loOpen, hiOpen =
            if lowerFirst o1 && lowerFirst o2 then Some a, Some b, isStrict o1, isStrict o2
            elif upperFirst o1 && upperFirst o2 then Some b, Some a, isStrict o2, isStrict o1
            else None, None, false, false
        match lo, hi, m with
        | Some lo, Some hi, Fn("abs", _) ->
            Some(Union [ Interval(hiOpen, Expr.neg hi, Expr.neg lo, loOpen); Interval(loOpen, lo, hi, hiOpen) ])
        | Some lo, Some hi, _ -> Some(Interval(loOpen, lo, hi, hiOpen))
        | _ -> None
    | Rel(op, m, c) when isConstant c && not (isConstant m) ->
        match op with
        | Lt -> Some(Interval(true, negInf, c, true))
        | Le -> Some(Interval(true, negInf, c, false))
        | Gt -> Some(Interval(true, c, Const "oo", true))
        | Ge -> Some(Interval(false, c, Const "oo", true))
        | _ -> None
    | Rel(op, c, m) when isConstant c && not (isConstant m) ->
        match op with
        | Gt -> Some(Interval(true, negInf, c, true))
        | Ge -> Some(Interval(true, negInf, c, false))
        | Lt -> Some(Interval(true, c, Const "oo", true))
        | Le -> Some(Interval(false, c, Const "oo", true))
        | _ -> None
    | _ -> None

let rec private renameSymbols (m: Map<string, string>) (e: Expr) : Expr =
    let r = renameSymbols m
    match e with
    | Sym s -> Sym(defaultArg (m.TryFind s) s)
    | Add xs -> Add(List.map r xs)
    | Mul xs -> Mul(List.map r xs)
    | Pow(a, b) -> Pow(r a, r b)
    | Fn(n, xs) -> Fn(n, List.map r xs)
    | Pct x -> Pct(r x)
    | PlusMinus(a, b) -> PlusMinus(r a, r b)
    | Rel(op, a, b) -> Rel(op, r a, r b)
    | And xs -> And(List.map r xs)
    | Tup xs -> Tup(List.map r xs)
    | Pair(a, b) -> Pair(r a, r b)
    | FSet xs -> FSet(List.map r xs)
    | Interval(lo, a, b, ro) -> Interval(lo, r a, r b, ro)
    | Union xs -> Union(List.map r xs)
    | Matrix rows -> Matrix(rows |> List.map (List.map r))
    | Num _ | Float _ | Const _ -> e

/// Each gold element matched to a distinct answer element (greedy: answers are short lists).
let private matchUnordered (eq: Expr -> Expr -> bool) (gs: Expr list) (ps: Expr list) =
    gs.Length = ps.Length
    && (let used = Array.zeroCreate ps.Length
        let pa = List.toArray ps
        gs |> List.forall (fun g ->
            match Array.tryFindIndex id (Array.init pa.Length (fun i -> not used.[i] && eq g pa.[i])) with
            | Some i -> used.[i] <- true; true
            | None -> false))

let private matchOrdered (eq: Expr -> Expr -> bool) (gs: Expr list) (ps: Expr list) =
    gs.Length = ps.Length && List.forall2 eq gs ps

let rec exprEq (opts: VerifyOptions) (gold: Expr) (pred: Expr) : bool =
    let pred =
        if opts.Strict then pred
        else
            let gv, pv = Eval.freeSymbols gold, Eval.freeSymbols pred
            if gv.Length = pv.Length && gv <> pv then renameSymbols (Map(List.zip pv gv)) pred else pred
    let goldAssign, predAssign = Expr.isAssignment gold, Expr.isAssignment pred
    let mutable g = gold
    let mutable p = pred
    // `x = 3` against `3` compares 3 with 3, but against another relation (`2x + 4y = 6`) it stays an equation.
    if goldAssign && not predAssign && not (Expr.isRelation pred) then g <- Expr.rhs gold
    if predAssign && not goldAssign && not (Expr.isRelation gold) then p <- Expr.rhs pred
    if goldAssign && predAssign then
        g <- Rel(Eq, Expr.lhs gold, Expr.rhs gold)
        p <- Rel(Eq, Expr.lhs pred, Expr.rhs pred)
    elif Expr.isEquation p && not (Expr.isEquation g) then p <- Expr.rhs p
    // Math-Verify's asymmetry: a gold relation is always read as a set against a set answer; an answer relation
    // against a gold set only with allow_set_relation_comp.
    if Expr.isRelation g && Expr.isSetLike p then g <- defaultArg (asSet g) g
    if Expr.isRelation p && Expr.isSetLike g && opts.AllowSetRelationComp then p <- defaultArg (asSet p) p
    g <- defaultArg (Matrices.evaluate g) g
    p <- defaultArg (Matrices.evaluate p) p
    if canon g = canon p then true
    else
        let eq = exprEq opts
        match g, p with
        | _ when Expr.isRelation g && Expr.isRelation p -> compareRelational opts g p
        | _ when Expr.isRelation g || Expr.isRelation p -> false
        | _ when Expr.isSetLike g || Expr.isSetLike p -> compareSets opts g p
        | Matrix gr, Matrix pr ->
            gr.Length = pr.Length && List.forall2 (fun (a: Expr list) (b: Expr list) -> a.Length = b.Length && List.forall2 eq a b) gr pr
        | Matrix _, _ | _, Matrix _ -> false
        | Sym _, _ | _, Sym _ -> compareSymbols g p
        // A gold percentage accepts x/100 and the bare x (Math-Verify: 28\% matches 28); an answer's percentage
        // is only worth x/100 (4 4/9\% does not match 40/9).
        | Pct x, _ -> scalarEq opts g p || scalarEq opts x p
        | _ -> scalarEq opts g p

and private compareRelational (opts: VerifyOptions) (g: Expr) (p: Expr) =
    match g, p with
    | And gs, And ps -> matchOrdered (compareRelational opts) gs ps
    | Rel(og, gl, gr), Rel(op, pl, pr) ->
        let flipped =
            match og, op with
            | Ge, Le | Le, Ge | Gt, Lt | Lt, Gt | Eq, Eq | Ne, Ne -> true
            | _ -> false
        (og = op && scalarOrExprEq opts (Expr.sub gl gr) (Expr.sub pl pr))
        || (flipped && scalarOrExprEq opts (Expr.sub gl gr) (Expr.sub pr pl))
        || (og = Eq && op = Eq && proportional (Expr.sub gl gr) (Expr.sub pl pr))
    | _ -> false

and private scalarOrExprEq opts a b = canon a = canon b || scalarEq opts a b

and private compareSets (opts: VerifyOptions) (g: Expr) (p: Expr) =
    let eq = exprEq opts
    let asSetLike e = if Expr.isSetLike e then e else FSet [ e ]
    match asSetLike g, asSetLike p with
    | Interval(lo1, a1, b1, ro1), Interval(lo2, a2, b2, ro2) -> lo1 = lo2 && ro1 = ro2 && eq a1 a2 && eq b1 b2
    | Pair(a1, b1), Interval(true, a2, b2, true) | Interval(true, a1, b1, true), Pair(a2, b2) -> eq a1 a2 && eq b1 b2
    | Interval _, _ | _, Interval _ -> false
    // Sets drop repeated elements, as sympy's FiniteSet does.
    | FSet gs, FSet ps -> matchUnordered eq (List.distinctBy canon gs) (List.distinctBy canon ps)
    | Union gs, Union ps -> matchUnordered eq gs ps
    | Union _, _ | _, Union _ -> false
    | (Tup gs | FSet gs), (Tup ps | FSet ps) -> matchOrdered eq gs ps
    | Pair(a, b), (Tup ps | FSet ps) -> matchOrdered eq [ a; b ] ps
    | (Tup gs | FSet gs), Pair(a, b) -> matchOrdered eq gs [ a; b ]
    | Pair(a1, b1), Pair(a2, b2) -> eq a1 a2 && eq b1 b2
    | _ -> false
