/// An experiment's numbers from its stored cells: every seed's value per arm, mean ± sd, and each comparison's
/// paired differences, interval and verdict. Pure: the same cells give the same summary.
module PaperRepro.Summary

open PaperRepro.Statistics

type ArmStats =
    { Arm: Arm
      /// Every seed's value, none dropped (a cell lacking the metric has no entry and is named in `Missing`).
      Values: (int64 * float) list
      Missing: int64 list
      Summary: Summary option }

type ComparisonStats =
    { Comparison: Comparison
      /// Treatment − baseline per seed, signed so that positive is the paper's direction.
      Differences: (int64 * float) list
      Interval: Interval option
      Verdict: Verdict }

type ExperimentSummary =
    { Experiment: Experiment
      Cells: CellResult list
      Primary: ArmStats list
      Secondary: (Metric * ArmStats list) list
      Comparisons: ComparisonStats list
      Verdict: Verdict
      Quick: bool
      Commits: string list
      /// Sum of the cells' own run times (SFT runs shared by RL cells not included).
      CellSeconds: float
      /// Each CPU kind the cells ran on, with its cell count.
      Machines: (string * int) list }

let armStats (m: Metric) (cells: CellResult list) (arm: Arm) =
    let mine = cells |> List.filter (fun c -> c.Cell.Arm = arm.Name) |> List.sortBy _.Cell.Seed
    let values = mine |> List.choose (fun c -> Results.value m c |> Option.map (fun v -> c.Cell.Seed, v))
    let missing = mine |> List.map _.Cell.Seed |> List.filter (fun s -> not (List.exists (fst >> (=) s) values))
    { Arm = arm
      Values = values
      Missing = missing
      Summary = if List.isEmpty values then None else Some(summarize (List.map snd values)) }

let compare (e: Experiment) (arms: ArmStats list) (c: Comparison) =
    let find name = arms |> List.find (fun a -> a.Arm.Name = name)
    let diffs = pairedDifferences e.Primary.Direction (Map.ofList (find c.Treatment).Values) (Map.ofList (find c.Baseline).Values)
    let i = if List.isEmpty diffs then None else Some(interval e.Rule.Confidence (List.map snd diffs))
    { Comparison = c
      Differences = diffs
      Interval = i
      Verdict = i |> Option.map verdict |> Option.defaultValue Inconclusive }

let summarizeExperiment (e: Experiment) (cells: CellResult list) =
    let primary = e.Arms |> List.map (armStats e.Primary cells)
    let comparisons = e.Comparisons |> List.map (compare e primary)
    { Experiment = e
      Cells = cells
      Primary = primary
      Secondary = [ for m in e.Secondary -> m, e.Arms |> List.map (armStats m cells) ]
      Comparisons = comparisons
      Verdict = comparisons |> List.map _.Verdict |> combine
      Quick = cells |> List.exists _.Quick
      Commits = cells |> List.map _.GitCommit |> List.distinct |> List.sort
      CellSeconds = cells |> List.sumBy _.WallSeconds
      Machines = cells |> List.countBy _.Machine |> List.sortBy fst }
