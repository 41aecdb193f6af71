/// Evaluation of scalar expressions: exactly over the rationals when possible, otherwise in complex doubles with
/// free symbols bound to sample points.
module Klear.Verifier.Eval

open System
open System.Numerics
open Klear.Verifier.Rational

/// The exact value when the expression is rational (integer powers only); None otherwise or when too large.
let rec exact (e: Expr) : Q option =
    match e with
    | Num q | Float q -> Some q
    | Pct x -> exact x |> Option.bind (fun q -> div q (ofInt 100))
    | Add xs ->
        xs |> List.fold (fun acc x -> acc |> Option.bind (fun a -> exact x |> Option.bind (add a))) (Some zero)
    | Mul xs ->
        xs |> List.fold (fun acc x -> acc |> Option.bind (fun a -> exact x |> Option.bind (mul a))) (Some one)
    | Pow(b, p) ->
        match exact p with
        | Some q when isInteger q -> exact b |> Option.bind (fun bq -> pow bq q.Num)
        | _ -> None
    | _ -> None

/// The symbols an expression depends on, sorted; bound variables of \sum are included (they make it non-numeric).
let freeSymbols (e: Expr) : string list =
    let acc = Collections.Generic.SortedSet<string>(StringComparer.Ordinal)
    let rec go e =
        match e with
        | Sym s -> acc.Add s |> ignore
        | Add xs | Mul xs | Fn(_, xs) | And xs | Tup xs | FSet xs | Union xs -> List.iter go xs
        | Pow(a, b) | PlusMinus(a, b) | Rel(_, a, b) | Pair(a, b) | Interval(_, a, b, _) -> go a; go b
        | Pct x -> go x
        | Matrix rows -> rows |> List.iter (List.iter go)
        | Num _ | Float _ | Const _ -> ()
    go e
    List.ofSeq acc

/// Any decimal literal inside: Math-Verify then compares after rounding instead of exactly.
let rec hasFloat (e: Expr) =
    match e with
    | Float _ -> true
    | Add xs | Mul xs | Fn(_, xs) -> List.exists hasFloat xs
    | Pow(a, b) -> hasFloat a || hasFloat b
    | Pct x -> hasFloat x
    | _ -> false

let private nan = Complex(Double.NaN, Double.NaN)

let private factorial (z: Complex) =
    if z.Imaginary <> 0.0 || z.Real < 0.0 || z.Real <> Math.Floor z.Real then nan
    elif z.Real > 170.0 then Complex(Double.PositiveInfinity, 0.0)
    else
        let mutable f = 1.0
        for k in 2 .. int z.Real do f <- f * float k
        Complex(f, 0.0)

/// A fixed, smooth stand-in for an unknown function f, so that f(x) = f(x) but f(x) <> f(y) and f <> g.
let private userFunction (name: string) (args: Complex list) =
    let seed = name |> Seq.fold (fun h ch -> h * 31 + int ch) 7
    let k = float (abs seed % 97) / 31.0 + 0.5
    args |> List.mapi (fun i a -> Complex.Sin(a * Complex(k + float i, 0.0)) + a * Complex(0.3 * k, 0.0)) |> List.fold (+) Complex.Zero

let private realOnly (f: float -> float) (z: Complex) =
    if z.Imaginary = 0.0 then Complex(f z.Real, 0.0) else nan

/// Numeric value; NaN for anything without one (sets, relations, unsupported functions).
let rec numeric (env: string -> Complex) (e: Expr) : Complex =
    match e with
    | Num q | Float q -> Complex(toFloat q, 0.0)
    | Sym s -> env s
    | Const "pi" -> Complex(Math.PI, 0.0)
    | Const "e" -> Complex(Math.E, 0.0)
    | Const "i" -> Complex.ImaginaryOne
    | Const _ -> Complex(Double.PositiveInfinity, 0.0)
    | Pct x -> numeric env x / Complex(100.0, 0.0)
    | Add xs -> xs |> List.fold (fun acc x -> acc + numeric env x) Complex.Zero
    | Mul xs -> xs |> List.fold (fun acc x -> acc * numeric env x) Complex.One
    | Pow(b, p) ->
        match exact p with
        | Some q when isInteger q && BigInteger.Abs q.Num < BigInteger 1000000 ->
            let bz = numeric env b
            let k = int q.Num
            if bz.Imaginary = 0.0 then Complex(Math.Pow(bz.Real, float k), 0.0) else Complex.Pow(bz, float k)
        | Some q when not (isInteger q) && (q.Den = BigInteger 3 || q.Den = BigInteger 5) ->
            // Odd roots of negative reals are real in school algebra, as in the reference's real-symbol parsing.
            let bz = numeric env b
            if bz.Imaginary = 0.0 && bz.Real < 0.0 then
                Complex(-Math.Pow(-bz.Real, toFloat q), 0.0) * (if q.Num.IsEven then Complex(-1.0, 0.0) else Complex.One)
            else Complex.Pow(bz, numeric env p)
        | _ -> Complex.Pow(numeric env b, numeric env p)
    | Fn(name, args) ->
        let a = args |> List.map (numeric env)
        match name, a with
        | "sin", [ x ] -> Complex.Sin x
        | "cos", [ x ] -> Complex.Cos x
        | "tan", [ x ] -> Complex.Tan x
        | "cot", [ x ] -> Complex.One / Complex.Tan x
        | "sec", [ x ] -> Complex.One / Complex.Cos x
        | "csc", [ x ] -> Complex.One / Complex.Sin x
        | "arcsin", [ x ] -> Complex.Asin x
        | "arccos", [ x ] -> Complex.Acos x
        | "arctan", [ x ] -> Complex.Atan x
        | "sinh", [ x ] -> Complex.Sinh x
        | "cosh", [ x ] -> Complex.Cosh x
        | "tanh", [ x ] -> Complex.Tanh x
        | ("ln" | "log"), [ x ] -> Complex.Log x
        | "lg", [ x ] -> Complex.Log10 x
        | "exp", [ x ] -> Complex.Exp x
        | "abs", [ x ] -> Complex(Complex.Abs x, 0.0)
        | "floor", [ x ] -> realOnly Math.Floor x
        | "ceil", [ x ] -> realOnly Math.Ceiling x
        | "factorial", [ x ] -> factorial x
        | "binom", [ n; k ] -> factorial n / (factorial k * factorial (n - k))
        | n, [ x ] when n.StartsWith "log_" ->
            match Parse.parseLatex (n.Substring 4) with
            | Some b -> Complex.Log x / Complex.Log(numeric env b)
            | None -> nan
        | n, xs when n.StartsWith "user:" -> userFunction n xs
        | _ -> nan
    | _ -> nan

/// Deterministic sample points per symbol index; one negative point so |x| and x, or sqrt(x^2) and x, differ.
let samplePoints = [| 0.7318; 1.4142; 2.3027; -1.2961 |]

let pointEnv (symbols: string list) (k: int) : string -> Complex =
    let table = symbols |> List.mapi (fun i s -> s, samplePoints.[(k + i) % samplePoints.Length] + 0.1173 * float i) |> dict
    fun s -> match table.TryGetValue s with
             | true, v -> Complex(v, 0.0)
             | _ -> nan
