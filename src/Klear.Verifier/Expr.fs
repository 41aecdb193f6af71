/// The answer expression tree and the per-check options, with Math-Verify's names and meanings.
namespace Klear.Verifier

open Klear.Verifier.Rational

/// Which extractors run over a text (Math-Verify's `extraction`: "latex" and/or "expr").
type Extraction =
    | LatexExtraction
    | ExprExtraction

/// Math-Verify's per-check settings; `VerifyOptions.defaults` holds its defaults.
type VerifyOptions =
    { /// Extractors applied to both gold and answer; their patterns compete by priority.
      Extraction: Extraction list
      /// Priority of `\boxed{}` matches (0 = with "final answer is ... I hope", 50 = Math-Verify's default, -1 = off).
      BoxedMatchPriority: int
      /// Decimal places both sides are rounded to when one side is a decimal literal.
      FloatRounding: int
      /// false: variables are matched by position, so f(x) equals f(y).
      Strict: bool
      /// A gold relation is always read as a set against a set answer (x > 1 vs (1, \infty)); with true, an answer's
      /// relation is also read as a set against a gold set.
      AllowSetRelationComp: bool
      /// Reward use: only the text after the last `</think>` of the answer is read.
      AfterThink: bool
      /// A gold answer with no math delimiters (`\frac{1}{3}`, as datasets store it) is read as `\boxed{gold}`, as
      /// verl does before calling Math-Verify; Math-Verify alone would only find a bare number in it.
      BoxBareGold: bool }

module VerifyOptions =
    let defaults =
        { Extraction = [ LatexExtraction; ExprExtraction ]
          BoxedMatchPriority = 50
          FloatRounding = 6
          Strict = true
          AllowSetRelationComp = false
          AfterThink = true
          BoxBareGold = true }

/// The C# surface of the options (C# sees the module above as `VerifyOptionsModule` and the list as an F# list).
type VerifyOptions with
    /// Math-Verify's defaults plus the reward's two settings (`VerifyOptions.defaults`).
    static member Defaults = VerifyOptions.defaults

    /// Options with every setting given; the extractors in any sequence.
    static member Create(extraction: Extraction seq, boxedMatchPriority, floatRounding, strict, allowSetRelationComp, afterThink, boxBareGold) =
        { Extraction = List.ofSeq extraction
          BoxedMatchPriority = boxedMatchPriority
          FloatRounding = floatRounding
          Strict = strict
          AllowSetRelationComp = allowSetRelationComp
          AfterThink = afterThink
          BoxBareGold = boxBareGold }

type RelOp =
    | Eq
    | Ne
    | Lt
    | Le
    | Gt
    | Ge

/// Subtraction is `Add [a; Mul [-1; b]]` and division `Mul [a; Pow (b, -1)]`, so evaluation has few cases.
[<NoComparison>]
type Expr =
    | Num of Q
    /// A decimal literal: exact value kept, but it switches on Math-Verify's rounding comparison.
    | Float of Q
    | Sym of string
    /// "pi", "e", "i" or "oo".
    | Const of string
    | Add of Expr list
    | Mul of Expr list
    | Pow of Expr * Expr
    | Fn of string * Expr list
    /// `x\%`, worth x/100; kept apart because a percentage of a decimal still counts as a decimal.
    | Pct of Expr
    /// `a \pm b`; expanded into a set of answers before comparison.
    | PlusMinus of Expr * Expr
    | Rel of RelOp * Expr * Expr
    /// A chain a < b < c, in written order.
    | And of Expr list
    | Tup of Expr list
    /// "(a, b)": Math-Verify reads it as an open interval, yet it also matches a pair or a 2-element set.
    | Pair of Expr * Expr
    | FSet of Expr list
    | Interval of leftOpen: bool * Expr * Expr * rightOpen: bool
    | Union of Expr list
    | Matrix of Expr list list

module Expr =
    let minusOne = Num(ofInt -1)
    let neg e = Mul [ minusOne; e ]
    let sub a b = Add [ a; neg b ]
    let isSetLike e =
        match e with
        | FSet _ | Interval _ | Union _ | Tup _ | Pair _ -> true
        | _ -> false
    let isRelation e =
        match e with
        | Rel _ -> true
        | And rs -> not rs.IsEmpty
        | _ -> false
    let rec isEquation e =
        match e with
        | Rel(Eq, _, _) -> true
        | And rs -> not rs.IsEmpty && List.forall isEquation rs
        | _ -> false
    /// Math-Verify's `is_expr_of_only_symbols`: a left side such as `x`, `AB`, `f(x)` or `(p, q)` names the answer.
    let rec onlySymbols e =
        match e with
        | Sym _ -> true
        | Mul xs | Tup xs | FSet xs -> not xs.IsEmpty && List.forall onlySymbols xs
        | Pair(a, b) -> onlySymbols a && onlySymbols b
        // A ratio of named quantities, NO/BO or V_1 : V_2, still names the answer.
        | Pow(x, Num q) -> q = Rational.ofInt -1 && onlySymbols x
        | Fn(name, args) when name.StartsWith "user:" -> List.forall onlySymbols args
        | _ -> false
    let isAssignment e =
        match e with
        | Rel(Eq, lhs, _) -> onlySymbols lhs
        | And(Rel(Eq, lhs, _) :: _ as rs) -> isEquation (And rs) && onlySymbols lhs
        | _ -> false
    let rec lastRelation e =
        match e with
        | And rs when not rs.IsEmpty -> lastRelation (List.last rs)
        | _ -> e
    let firstRelation e =
        match e with
        | And(r :: _) -> r
        | _ -> e
    let rhs e =
        match lastRelation e with
        | Rel(_, _, r) -> r
        | x -> x
    let lhs e =
        match firstRelation e with
        | Rel(_, l, _) -> l
        | x -> x
    /// `a \pm b` inside an answer stands for a list of answers; at most 16 are spelt out.
    let rec expandPm (e: Expr) : Expr list =
        let combos (parts: Expr list) (build: Expr list -> Expr) =
            let expanded = parts |> List.map expandPm
            if expanded |> List.forall (fun l -> l.Length = 1) then [ e ]
            else
                expanded
                |> List.fold (fun acc choices -> [ for a in acc do for c in choices -> c :: a ] |> List.truncate 16) [ [] ]
                |> List.map (List.rev >> build)
        match e with
        | PlusMinus(a, b) ->
            [ for x in expandPm a do
                  for y in expandPm b do
                      yield Add [ x; y ]
                      yield Add [ x; neg y ] ] |> List.truncate 16
        | Add xs -> combos xs Add
        | Mul xs -> combos xs Mul
        | Pow(a, b) -> combos [ a; b ] (fun l -> Pow(l.[0], l.[1]))
        | Fn(n, xs) -> combos xs (fun l -> Fn(n, l))
        | Pct x -> combos [ x ] (fun l -> Pct l.[0])
        | _ -> [ e ]
