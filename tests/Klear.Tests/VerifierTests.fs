/// The math answer verifier (docs/verifier.md): extraction, normalisation, parsing and equivalence against hand-written
/// expectations, the Math-Verify public cases, and FsCheck properties for forms of one value and hostile inputs.
module Klear.Tests.VerifierTests

open System
open System.IO
open System.Text.Json
open Expecto
open FsCheck
open Klear.Verifier

let private opts = VerifyOptions.defaults
let private verify gold answer = MathVerifier.verify opts gold answer
let private q n d = (Rational.make (Numerics.BigInteger(n: int)) (Numerics.BigInteger(d: int))).Value

/// The parsed value extracted from a text, if any.
let private extracted (text: string) =
    Extract.extract opts text |> List.tryPick (fun e -> match e with Extract.Parsed v -> Some v | _ -> None)

let private exactOf (text: string) = extracted text |> Option.bind Eval.exact

let private equivalenceCases =
    [ // gold, answer, expected, why
      "4", "The answer is \\boxed{4}.", true, "boxed integer"
      "4", "The answer is \\boxed{5}.", false, "wrong integer"
      "\\frac{1}{2}", "\\boxed{0.5}", true, "rational vs terminating decimal"
      "\\frac{1}{3}", "\\boxed{0.333333}", true, "decimal equal after rounding to 6 places"
      "\\frac{1}{3}", "\\boxed{0.33}", false, "decimal not equal after rounding"
      "\\frac{2}{4}", "\\boxed{\\tfrac{1}{2}}", true, "unreduced fraction"
      "2\\sqrt{3}", "$\\boxed{\\sqrt{12}}$", true, "surds numerically"
      "\\frac{\\sqrt{2}}{2}", "\\boxed{\\frac{1}{\\sqrt{2}}}", true, "rationalised denominator"
      "\\pi", "\\boxed{3.14}", false, "pi is not 3.14"
      "x^2+2x+1", "\\boxed{(x+1)^2}", true, "free variable, random points"
      "x^2+2x+1", "\\boxed{(x+1)^3}", false, "different polynomial"
      "\\{1,2,3\\}", "\\boxed{\\{3,1,2\\}}", true, "sets ignore order"
      "\\{1,2,3\\}", "\\boxed{\\{1,2\\}}", false, "sets of different size"
      "(1,2,3)", "\\boxed{(3,2,1)}", false, "tuples keep order"
      "(1,2,3)", "\\boxed{(1,2,3)}", true, "same tuple"
      "[1,2)", "\\boxed{[1,2)}", true, "half-open interval"
      "[1,2)", "\\boxed{[1,2]}", false, "interval ends differ"
      "(1,3)", "\\boxed{\\{1,3\\}}", true, "(a,b) vs a 2-set, Math-Verify's reading"
      "(3,1)", "\\boxed{\\{1,3\\}}", false, "order counts there"
      "50\\%", "\\boxed{0.5}", true, "percentage as a fraction"
      "50\\%", "\\boxed{50\\%}", true, "percentage vs percentage"
      "50\\%", "\\boxed{50}", true, "a gold percentage also accepts its bare number"
      "50", "\\boxed{50\\%}", false, "an answer's percentage is only worth x/100"
      "$x = 3$", "\\boxed{3}", true, "assignment gold vs value"
      "3", "$\\boxed{x=3}$", true, "value gold vs assignment"
      "$7 = 11a+c$", "$11a+c$", false, "an equation whose left side is a number is not an assignment"
      "$x = 3$", "$\\boxed{y = 3}$", false, "both assignments: names count"
      "\\frac{7}{3}", "\\boxed{2\\frac{1}{3}}", true, "mixed number"
      "1000", "\\boxed{1{,}000}", true, "thousands separator"
      "30", "\\boxed{30^\\circ}", true, "degrees"
      "5", "\\boxed{5 \\text{ cm}}", true, "units"
      "e^{i\\pi}", "\\boxed{-1}", true, "complex evaluation"
      "\\begin{pmatrix}1&2\\\\3&4\\end{pmatrix}", "$\\boxed{\\begin{bmatrix}1&2\\\\3&4\\end{bmatrix}}$", true, "matrices"
      "\\begin{pmatrix}1&2\\\\3&4\\end{pmatrix}", "$\\boxed{\\begin{pmatrix}1&2\\\\4&3\\end{pmatrix}}$", false, "matrix entries"
      "$x > 5$", "$x \\gt 5$", true, "relation spelling"
      "$x < 1$", "$-x > -1$", true, "flipped inequality"
      "$x > 5$", "$x < 5$", false, "opposite inequality"
      "\\pm 2", "\\boxed{2}", false, "plus-minus is two answers"
      "\\pm 2", "\\boxed{-2, 2}", true, "plus-minus vs list"
      "12", "<think>maybe \\boxed{11}</think> so \\boxed{12}", true, "only the text after </think> counts"
      "12", "<think>maybe \\boxed{12}</think> so \\boxed{11}", false, "reasoning is not the answer"
      "3", "I could not solve this.", false, "no answer at all"
      "40/9", "The answer is 4 4/9.", true, "plain-text mixed number"
      "1,000,000", "\\boxed{1000000}", true, "a bare gold with thousands separators is one number"
      "\\$5.00", "\\boxed{5}", true, "escaped dollar is not a math delimiter"
      "2\\pi", "\\boxed{6.283185}", false, "Math-Verify: a decimal never equals an irrational exactly"
      "\\log_2 8", "\\boxed{3}", true, "logarithm with a base"
      "5!", "\\boxed{120}", true, "factorial"
      "\\{-1, 1\\}", "\\boxed{\\pm 1}", true, "plus-minus as a set"
      "$V_{1}:V_{2}=11:21$", "$\\boxed{11:21}$", true, "ratios"
      "$(0;-2;6),(4;0;0)$", "\\boxed{(4, 0, 0), (0, -2, 6)}", true, "semicolon coordinates, list order free"
      "$(1,2),(3,4)$", "\\boxed{(3,4), (1,2), (3,4)}", true, "sets drop repeats"
      "$p=5,q=2;p=7,q=2$", "$\\boxed{p = 5, q = 2 \\quad \\text{and} \\quad p = 7, q = 2}$", true, "groups of solutions"
      "$19, 46, and 82$", "$\\boxed{19, 46, 82}$", true, "'and' before the last item"
      "1000000000000000000001", "\\boxed{10^{21}+1}", true, "exact big integers"
      "1000000000000000000001", "\\boxed{10^{21}}", false, "exact, where doubles would round them together" ]

// The repository's copy (tests/data, see its README), so the check runs on any clone.
let private publicFile () = Repo.file [ "tests"; "data"; "math-equivalence-public.jsonl" ]

let private caseOptions (root: JsonElement) =
    let prop (name: string) = match root.TryGetProperty name with | true, v when v.ValueKind <> JsonValueKind.Null -> Some v | _ -> None
    { opts with
        Extraction =
            match prop "extraction" with
            | Some v -> [ for x in v.EnumerateArray() -> if x.GetString() = "latex" then LatexExtraction else ExprExtraction ]
            | None -> opts.Extraction
        BoxedMatchPriority = prop "boxed_match_priority" |> Option.map (fun v -> v.GetInt32()) |> Option.defaultValue opts.BoxedMatchPriority
        FloatRounding = prop "float_rounding" |> Option.map (fun v -> v.GetInt32()) |> Option.defaultValue opts.FloatRounding
        Strict = prop "strict" |> Option.map (fun v -> v.GetBoolean()) |> Option.defaultValue opts.Strict
        AllowSetRelationComp = prop "allow_set_relation_comp" |> Option.map (fun v -> v.GetBoolean()) |> Option.defaultValue false }

/// A rational a/b written several equivalent ways, as a model might box it.
let private renderings (a: int) (b: int) =
    let sign = if a < 0 then "-" else ""
    let n = abs a
    [ yield $"\\frac{{{a}}}{{{b}}}"
      yield $"{sign}\\dfrac{{{n}}}{{{b}}}"
      yield $"{a}/{b}"
      yield $"\\frac{{{2 * a}}}{{{2 * b}}}"
      // Terminating decimals only: b = 2^i 5^j.
      let mutable d = b
      while d % 2 = 0 do d <- d / 2
      while d % 5 = 0 do d <- d / 5
      if d = 1 then yield (decimal a / decimal b).ToString(Globalization.CultureInfo.InvariantCulture)
      if n > b && n % b <> 0 then yield $"{sign}{n / b}\\frac{{{n % b}}}{{{b}}}" ]

let private hostileAlphabet =
    [| "{"; "}"; "\\frac"; "\\sqrt"; "^"; "10"; "$"; "\\boxed{"; "("; ")"; "["; "]"; "\\left("; "\\right)"; "x"; "=";
       ","; " "; "\n"; "\\\\"; "&"; "\\begin{pmatrix}"; "\\end{pmatrix}"; "\\pm"; "\\{"; "\\}"; "|"; "9"; "."; "-";
       "\\text{"; "%"; "\\%"; "answer"; "final answer is"; "\\("; "\\)"; "\\["; "\\]"; "e"; "\\infty"; "!"; "1,000";
       "\\cdot"; "</think>"; "é"; "\\"; "_"; "\\in"; "\\cup"; "<"; "\\le" |]

let private hostileFixed =
    [ String.replicate 5000 "{" + "1"
      String.replicate 5000 "(" + "1" + String.replicate 4000 ")"
      String.replicate 3000 "\\frac{1}{"
      "\\boxed{10^{10^{10^{10}}}}"
      "\\boxed{" + String.replicate 200 "10^{" + "9" + String.replicate 200 "}" + "}"
      "\\boxed{9^{9^{9^{9^{9}}}}!}"
      String.replicate 4000 "\\boxed{"
      String.replicate 20000 "$1$ "
      String.replicate 30000 "1 + "
      "\\boxed{" + String.replicate 2000 "\\sqrt{" + "2" + String.replicate 2000 "}" + "}"
      String.replicate 25000 "1 2 "
      "\\begin{pmatrix}" + String.replicate 3000 "1 & " + "\\end{pmatrix}"
      String('x', 100_000)
      String.replicate 10000 "\\{1,"
      "\\boxed{" + String('-', 2400) + "1}"
      String.replicate 30000 "\\["
      String.replicate 30000 "\\("
      String.replicate 30000 "$$ "
      String.replicate 15000 "\\text{"
      "\\boxed{" + String.replicate 1200 "x^" + "2}" ]

let private randomHostile (rng: Random) =
    let len = if rng.Next 200 = 0 then 20_000 else rng.Next 60
    let sb = Text.StringBuilder()
    for _ in 1 .. len do sb.Append(hostileAlphabet.[rng.Next hostileAlphabet.Length]) |> ignore
    sb.ToString()

let private withinBound (bound: TimeSpan) (gold: string) (answer: string) =
    let sw = Diagnostics.Stopwatch.StartNew()
    // The internals, not the catch-all entry point: they must not throw on their own.
    let golds = Extract.extract opts gold
    let answers = Extract.extract opts answer
    for g in golds do
        for a in answers do
            match g, a with
            | Extract.Parsed x, Extract.Parsed y -> Equivalence.exprEq opts x y |> ignore
            | _ -> ()
    MathVerifier.verify opts gold answer |> ignore
    sw.Elapsed < bound

[<Tests>]
let tests =
    testList "verifier" [
        testList "extraction" [
            test "the last boxed answer wins over earlier ones" {
                Expect.equal (exactOf "First \\boxed{3}, then \\boxed{7}.") (Some(q 7 1)) "last box"
            }
            test "nested braces inside the box are matched" {
                Expect.equal (exactOf "so \\boxed{\\frac{1}{\\frac{1}{2}}}") (Some(q 2 1)) "1/(1/2)"
            }
            test "an unclosed box does not hide a later one" {
                Expect.equal (exactOf "First \\boxed{oops, then \\boxed{42}.") (Some(q 42 1)) "later box"
            }
            test "fbox counts as a box" { Expect.equal (exactOf "\\fbox{12}") (Some(q 12 1)) "fbox" }
            test "final answer is ... I hope beats an earlier display" {
                Expect.equal (exactOf "We get $5$. Final Answer: The final answer is $6$. I hope it is correct.") (Some(q 6 1)) "final answer"
            }
            test "a bare trailing number is an answer" { Expect.equal (exactOf "so the total is 120.") (Some(q 120 1)) "bare" }
            test "thousands separators in plain numbers" { Expect.equal (exactOf "It costs $1,000.5") (Some(q 2001 2)) "1,000.5" }
            test "inline \\( \\) must not span lines" {
                let got = Extract.extract { opts with Extraction = [ LatexExtraction ] } "Answer \\( \n 9 \n \\)"
                Expect.isEmpty got "nothing extracted"
            }
            test "text after </think> only" { Expect.equal (exactOf "<think>\\boxed{1}</think>\\boxed{2}") (Some(q 2 1)) "after think" }
        ]
        testList "normalisation" [
            let norm (s: string) = (Normalise.normalise false s).Replace(" ", "")
            test "left/right and dfrac" { Expect.equal (norm "\\left( \\dfrac{1}{2} \\right)") "(\\frac{1}{2})" "" }
            test "text units vanish with their exponent" { Expect.equal (norm "15\\mbox{ cm}^2") "15" "" }
            test "degrees and percent" { Expect.equal (norm "30^{\\circ} + 5\\%") "30+5%" "" }
            test "thousands separators" { Expect.equal (norm "16,\\!386.20 + 1{,}000") "16386.20+1000" "" }
            test "spacing commands and trailing period" { Expect.equal (norm "x\\,=\\!3\\;.") "x=3" "" }
            test "'and' separates alternative answers like a semicolon" { Expect.equal (norm "6 \\text{ and } 8") "6;8" "" }
            test "doubled backslashes from non-raw strings" { Expect.equal (norm "\\\\frac{1}{2}") "\\frac{1}{2}" "" }
            test "the last run of boxes" { Expect.equal (Normalise.lastBoxedRun "a \\boxed{1}, \\boxed{2}") (Some "1, 2") "" }
        ]
        testList "parsing" [
            let value s = Parse.parseLatex s |> Option.bind Eval.exact
            test "fractions, malformed too" {
                Expect.equal (value "\\frac94") (Some(q 9 4)) "\\frac94"
                Expect.equal (value "\\frac3{3}") (Some(q 1 1)) "\\frac3{3}"
            }
            test "powers take one character without braces" { Expect.equal (value "2^34") (Some(q 32 1)) "2^3 * 4" }
            test "implicit multiplication and precedence" { Expect.equal (value "2(3+4)-6/3\\cdot2") (Some(q 10 1)) "" }
            test "mixed numbers" { Expect.equal (value "-1\\frac{1}{2}") (Some(q -3 2)) "" }
            test "cube roots numerically" {
                let v = Parse.parseLatex "\\sqrt[3]{27}" |> Option.map (Eval.numeric (fun _ -> Numerics.Complex.Zero))
                Expect.floatClose Accuracy.high v.Value.Real 3.0 "cube root of 27"
            }
            test "intervals, pairs, tuples and sets" {
                let shape s =
                    match Parse.parseLatex s with
                    | Some(Interval(lo, _, _, ro)) -> $"interval {lo} {ro}"
                    | Some(Pair _) -> "pair"
                    | Some(Tup xs) -> $"tuple {xs.Length}"
                    | Some(FSet xs) -> $"set {xs.Length}"
                    | Some _ -> "other"
                    | None -> "none"
                Expect.equal (shape "[1,2)") "interval False True" "half-open"
                Expect.equal (shape "(1,2)") "pair" "open pair"
                Expect.equal (shape "(1,2,3)") "tuple 3" "triple"
                Expect.equal (shape "\\{1,2\\}") "set 2" "set"
                Expect.equal (shape "1\\pm\\sqrt{2}") "set 2" "plus-minus"
            }
            test "equations and chains" {
                match Parse.parseLatex "x = 5+5+1 = 11" with
                | Some(And [ Rel(Eq, Sym "x", _); Rel(Eq, _, _) ]) -> ()
                | other -> failtestf "expected a chain of two equations, got %A" other
            }
            test "garbage is refused, not thrown" {
                Expect.isNone (Parse.parseLatex "\\frac{1}{") "unbalanced"
                Expect.isNone (Parse.parseLatex "\\unknowncommand{3}") "unknown command"
            }
        ]
        testList "equivalence cases" [
            for gold, answer, expected, why in equivalenceCases ->
                test $"{why}: {gold} vs {answer}" { Expect.equal (verify gold answer) expected why } ]
        testList "equivalence options" [
            test "non-strict mode matches variables by position" {
                Expect.isFalse (verify "$f(x)$" "$f(y)$") "strict"
                Expect.isTrue (MathVerifier.verify { opts with Strict = false } "$f(x)$" "$f(y)$") "non-strict"
            }
            test "float rounding follows the option" {
                Expect.isTrue (MathVerifier.verify { opts with FloatRounding = 2 } "\\frac{8}{3}" "\\boxed{2.6667}") "2 places"
                Expect.isFalse (verify "\\frac{8}{3}" "\\boxed{2.6667}") "6 places"
            }
            test "a gold relation meets a set answer always; a gold set meets a relation only with allow_set_relation_comp" {
                Expect.isTrue (verify "$x > 1$" "$\\boxed{(1, \\infty)}$") "gold relation, answer set"
                Expect.isTrue (verify "$-2 \\le x \\le 7$" "$x \\in [-2,7]$") "chained bounds"
                Expect.isFalse (verify "$x \\in [-2,7]$" "$-2 \\le x \\le 7$") "gold set, flag off"
                Expect.isTrue (MathVerifier.verify { opts with AllowSetRelationComp = true } "$x \\in [-2,7]$" "$-2 \\le x \\le 7$") "flag on"
            }
            test "equations are equal up to a constant factor" {
                Expect.isTrue (verify "$2x+4y-3=0$" "$y=-\\frac{1}{2}x+\\frac{3}{4}$") "scaled"
                Expect.isFalse (verify "$2x+4y-3=0$" "$y=-\\frac{1}{2}x+1$") "different line"
            }
            test "matrix sums and products are worked out" {
                Expect.isTrue (verify "$\\begin{pmatrix}6 & 8 \\\\ 10 & 12\\end{pmatrix}$" "$\\begin{pmatrix}1 & 2 \\\\ 3 & 4\\end{pmatrix} + \\begin{pmatrix}5 & 6 \\\\ 7 & 8\\end{pmatrix}$") "sum"
                Expect.isTrue (verify "$\\begin{pmatrix}19 & 22 \\\\ 43 & 50\\end{pmatrix}$" "$\\begin{pmatrix}1 & 2 \\\\ 3 & 4\\end{pmatrix}\\begin{pmatrix}5 & 6 \\\\ 7 & 8\\end{pmatrix}$") "product"
                Expect.isFalse (verify "$\\begin{pmatrix}19 & 22 \\\\ 43 & 50\\end{pmatrix}$" "$\\begin{pmatrix}5 & 6 \\\\ 7 & 8\\end{pmatrix}\\begin{pmatrix}1 & 2 \\\\ 3 & 4\\end{pmatrix}$") "products do not commute"
            }
            test "a trailing approximation does not replace the exact value" {
                Expect.isTrue (verify "$x = 1/3$" "$x = 5+5+1 = 1/3 \\approx 11$") "chain"
                Expect.isTrue (verify "$11$" "$x \\approx 11$") "alone"
            }
            test "an ellipsis is part of the answer, a full stop is not" {
                Expect.isFalse (verify "$1, 2, 3$" "$1, 2, 3, ...$") "ellipsis"
                Expect.isTrue (verify "$\\frac{1}{3}$" "The answer is $\\frac{1}{3}.$") "full stop"
            }
        ]
        test "agrees with Math-Verify on >= 95% of its public cases" {
            let lines = File.ReadAllLines(publicFile ())
            let disagreements =
                [ for i, line in Array.indexed lines do
                      use doc = JsonDocument.Parse line
                      let root = doc.RootElement
                      let got = MathVerifier.verify (caseOptions root) (nonNull (root.GetProperty("gold").GetString())) (nonNull (root.GetProperty("answer").GetString()))
                      if got <> root.GetProperty("expected").GetBoolean() then yield i + 1 ]
            let agreement = float (lines.Length - disagreements.Length) / float lines.Length
            Expect.equal lines.Length 82 "the public file holds 82 cases"
            Expect.isGreaterThanOrEqual agreement 0.95 $"agreement {agreement:P1}; disagreeing lines {disagreements}"
        }
        testList "properties" [
            let config = { FsCheckConfig.defaultConfig with maxTest = 300; replay = Some(20260427UL, 17UL, None) }
            testPropertyWithConfig config "a rational in any rendering equals itself and not its neighbour" <| fun (a: int) (b: PositiveInt) ->
                let a, b = a % 2000, (b.Get % 400) + 1
                let forms = renderings a b
                let gold = $"\\frac{{{a}}}{{{b}}}"
                let perturbed = $"\\frac{{{a + 1}}}{{{b}}}"
                forms |> List.forall (fun f -> verify gold $"\\boxed{{{f}}}")
                && forms |> List.forall (fun f -> not (verify perturbed $"\\boxed{{{f}}}"))
            testPropertyWithConfig config "a polynomial equals its expansion and not a shifted one" <| fun (c1: int) (c0: int) ->
                let c1, c0 = c1 % 50, c0 % 50
                // (x + c1)(x + c0) = x^2 + (c1 + c0)x + c1 c0
                let factored = $"(x + {c1})(x + {c0})".Replace("+ -", "- ")
                let expanded = $"x^2 + {c1 + c0}x + {c1 * c0}".Replace("+ -", "- ")
                verify $"${expanded}$" $"\\boxed{{{factored}}}" && not (verify $"${expanded} + 1$" $"\\boxed{{{factored}}}")
        ]
        testSequenced <| testList "hostile inputs" [
            test "fixed hostile inputs (deep nesting, huge exponents, 100 kB) finish within 2 s each" {
                for s in hostileFixed do
                    Expect.isTrue (withinBound (TimeSpan.FromSeconds 2.0) s s) $"slow on input starting {s.Substring(0, min 30 s.Length)}"
                Expect.isFalse (verify "1" "\\boxed{10^{10^{10}}}") "a huge power is not 1"
            }
            test "10k random hostile strings never throw and each finishes within 500 ms" {
                let rng = Random 4242
                // JIT compilation of the first calls is not the verifier's time.
                for s in [ "\\boxed{1}"; "$x$ and 2"; "The answer is 3." ] do MathVerifier.verify opts s s |> ignore
                for i in 1 .. 10_000 do
                    let gold, answer = randomHostile rng, randomHostile rng
                    let ok =
                        try withinBound (TimeSpan.FromMilliseconds 500.0) gold answer
                        with ex -> failtestf "input %d threw %s: gold %A answer %A" i (ex.GetType().Name) gold answer
                    if not ok then failtestf "input %d too slow: gold %A answer %A" i gold answer
            }
        ]
    ]
