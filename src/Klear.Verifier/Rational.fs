/// Exact rational arithmetic for answer checking. Every operation is bounded: a result whose numerator or denominator
/// would exceed `maxBits` is refused (None), so `10^{10^{10}}` costs nothing instead of gigabytes.
module Klear.Verifier.Rational

open System
open System.Numerics

/// A reduced fraction with a positive denominator.
[<CustomEquality; NoComparison>]
type Q =
    { Num: BigInteger; Den: BigInteger }
    override q.Equals(o) =
        match o with
        | :? Q as r -> q.Num = r.Num && q.Den = r.Den
        | _ -> false
    override q.GetHashCode() = hash (q.Num, q.Den)

/// Competition answers never need more; anything larger is treated as "not exactly representable".
let maxBits = 4096L

let private fits (b: BigInteger) = b.IsZero || b.GetBitLength() <= maxBits

let make (n: BigInteger) (d: BigInteger) : Q option =
    if d.IsZero then None
    else
        let g = BigInteger.GreatestCommonDivisor(n, d)
        let s = if d.Sign < 0 then BigInteger.MinusOne else BigInteger.One
        let n', d' = s * n / g, s * d / g
        if fits n' && fits d' then Some { Num = n'; Den = d' } else None

let ofInt (n: int) = { Num = BigInteger n; Den = BigInteger.One }
let ofBig (n: BigInteger) = { Num = n; Den = BigInteger.One }
let zero = ofInt 0
let one = ofInt 1
let isZero (q: Q) = q.Num.IsZero
let isInteger (q: Q) = q.Den.IsOne

let add (a: Q) (b: Q) = make (a.Num * b.Den + b.Num * a.Den) (a.Den * b.Den)
let sub (a: Q) (b: Q) = make (a.Num * b.Den - b.Num * a.Den) (a.Den * b.Den)
let mul (a: Q) (b: Q) = make (a.Num * b.Num) (a.Den * b.Den)
let div (a: Q) (b: Q) = make (a.Num * b.Den) (a.Den * b.Num)
let neg (a: Q) = { a with Num = -a.Num }

/// Integer powers only, and only when the result's size is known in advance to stay under `maxBits`.
let pow (a: Q) (e: BigInteger) : Q option =
    if e.IsZero then (if isZero a then None else Some one)
    elif isZero a then (if e.Sign > 0 then Some zero else None)
    else
        let absE = BigInteger.Abs e
        if a.Den.IsOne && (BigInteger.Abs a.Num).IsOne then
            Some(if a.Num.Sign < 0 && not absE.IsEven then neg one else one)
        else
            // |a|^k >= 2^((bits-1)k) for the larger of numerator and denominator, so this bound is safe.
            let bits = max (a.Num.GetBitLength()) (a.Den.GetBitLength())
            if absE > BigInteger maxBits || BigInteger(bits - 1L) * absE > BigInteger maxBits then None
            else
                let k = int absE
                let n, d = BigInteger.Pow(a.Num, k), BigInteger.Pow(a.Den, k)
                if e.Sign > 0 then make n d else make d n

let toFloat (q: Q) : float =
    let f = float q.Num / float q.Den
    if Double.IsFinite f then f
    else Math.Exp(BigInteger.Log(BigInteger.Abs q.Num) - BigInteger.Log q.Den) * float q.Num.Sign

/// Exact value of a decimal literal such as "0.125" or "12".
let ofDecimalString (s: string) : Q option =
    let s = s.Trim()
    if s.Length = 0 || s.Length > 400 then None
    else
        let neg = s.[0] = '-'
        let body = if neg || s.[0] = '+' then s.Substring 1 else s
        let dot = body.IndexOf '.'
        let intPart, fracPart = if dot < 0 then body, "" else body.Substring(0, dot), body.Substring(dot + 1)
        let digits = intPart + fracPart
        if digits.Length = 0 || not (Seq.forall Char.IsAsciiDigit digits) then None
        else
            let n = BigInteger.Parse digits
            make (if neg then -n else n) (BigInteger.Pow(BigInteger 10, fracPart.Length))

/// Python-style round-half-even to `places` decimals, as sympy's Float.round does for the numbers we meet.
let roundTo (places: int) (q: Q) : Q option =
    let scale = BigInteger.Pow(BigInteger 10, max 0 (min places 60))
    let scaled = q.Num * scale
    let fl = BigInteger.Divide(scaled, q.Den)
    let fl = if scaled.Sign < 0 && not (BigInteger.Remainder(scaled, q.Den)).IsZero then fl - BigInteger.One else fl
    let rem = scaled - fl * q.Den // 0 <= rem < Den
    let twice = rem * BigInteger 2
    let r = if twice > q.Den || (twice = q.Den && not fl.IsEven) then fl + BigInteger.One else fl
    make r scale

let compare (a: Q) (b: Q) = BigInteger.Compare(a.Num * b.Den, b.Num * a.Den)

let toString (q: Q) = if q.Den.IsOne then q.Num.ToString() else $"{q.Num}/{q.Den}"
