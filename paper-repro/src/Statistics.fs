/// Per-arm summaries over seeds, paired differences with a Student t interval, and the decision rule.
module PaperRepro.Statistics

open MathNet.Numerics.Distributions

/// Mean and sample standard deviation (n − 1) of one arm's values over seeds.
type Summary = { N: int; Mean: float; Sd: float }

let summarize (xs: float list) =
    let n = List.length xs
    if n = 0 then invalidArg "xs" "no values to summarize"
    let mean = List.average xs
    let sd = if n < 2 then nan else sqrt ((xs |> List.sumBy (fun x -> (x - mean) ** 2.0)) / float (n - 1))
    { N = n; Mean = mean; Sd = sd }

/// The two-sided Student t interval of a mean: mean ± t(1 − (1 − confidence)/2, n − 1) · sd / √n.
type Interval =
    { Summary: Summary
      /// The t quantile used (nan with fewer than two values).
      T: float
      HalfWidth: float
      Low: float
      High: float }

let tQuantile confidence (dof: int) =
    StudentT.InvCDF(0.0, 1.0, float dof, 1.0 - (1.0 - confidence) / 2.0)

let interval confidence (xs: float list) =
    let s = summarize xs
    if s.N < 2 then { Summary = s; T = nan; HalfWidth = nan; Low = nan; High = nan }
    else
        let t = tQuantile confidence (s.N - 1)
        let h = t * s.Sd / sqrt (float s.N)
        { Summary = s; T = t; HalfWidth = h; Low = s.Mean - h; High = s.Mean + h }

/// Treatment − baseline per seed, for seeds both arms have; signed so that positive means "better" by `direction`.
let pairedDifferences direction (treatment: Map<int64, float>) (baseline: Map<int64, float>) =
    let sign =
        match direction with
        | HigherIsBetter -> 1.0
        | LowerIsBetter -> -1.0
    [ for KeyValue(seed, t) in treatment do
          match Map.tryFind seed baseline with
          | Some b -> seed, sign * (t - b)
          | None -> () ]

/// The rule of DecisionRule: the paper's direction (positive) and an interval excluding 0 → reproduced; the opposite
/// direction and excluding 0 → contradicted; anything else (including an interval that cannot be formed) → inconclusive.
let verdict (i: Interval) =
    if i.Summary.N < 2 || System.Double.IsNaN i.Low then Inconclusive
    elif i.Low > 0.0 then Reproduced
    elif i.High < 0.0 then Contradicted
    else Inconclusive

/// The claim's verdict from its comparisons: every one reproduced → reproduced; any contradicted → contradicted.
let combine (verdicts: Verdict list) =
    if List.isEmpty verdicts then Inconclusive
    elif List.contains Contradicted verdicts then Contradicted
    elif List.forall ((=) Reproduced) verdicts then Reproduced
    else Inconclusive

/// One cell's number: its series of (step, value) reduced as the metric says.
let reduce (m: Metric) (series: (int64 * float) list) =
    match series with
    | [] -> None
    | _ ->
        let values = series |> List.map snd
        match m.Reduce with
        | Final -> Some(List.last values)
        | Peak ->
            Some(
                match m.Direction with
                | HigherIsBetter -> List.max values
                | LowerIsBetter -> List.min values
            )
        | MeanOfLast n -> Some(values |> List.skip (max 0 (values.Length - n)) |> List.average)
        | GainOverStart -> invalidArg "m" "GainOverStart needs the start row too; see Results.value"
