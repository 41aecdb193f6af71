/// An experiment is a value: what the paper claims, the arms that test it as `klear train` overrides, the seeds, the
/// outcome measured and the rule that turns paired seeds into a verdict, all stated before anything runs.
namespace PaperRepro

/// One `key=value` override, exactly as `klear train` takes it (`actor.policy_loss=gppo`).
type Override = string

/// One arm of an experiment: its overrides, and the paper's own number for the same setting when it has one.
type Arm =
    { Name: string
      Overrides: Override list
      /// The paper's value of its metric (see Experiment.PaperMetric) for this arm.
      Paper: float option }

type Direction =
    | HigherIsBetter
    | LowerIsBetter

/// How a cell's series of a metric becomes one number.
type Reduce =
    /// The last row.
    | Final
    /// The best row (by the metric's direction).
    | Peak
    /// The mean of the last n rows (steadier than one row for noisy training metrics).
    | MeanOfLast of int
    /// The last row minus the evaluation after SFT (held-out metrics of RL cells: what RL added).
    | GainOverStart

/// A number read from a cell's metrics.jsonl: rows of `Phase` (sft, rl, eval-sft, eval-rl), column `Key`.
type Metric =
    { Label: string
      Phase: string
      Key: string
      Reduce: Reduce
      Direction: Direction }

/// "The paper says Treatment beats Baseline on the primary metric."
type Comparison = { Treatment: string; Baseline: string }

/// The decision rule, fixed before the run: per comparison, the paired difference Treatment − Baseline over seeds
/// (sign-flipped for lower-is-better metrics, so positive means "as the paper says") with a two-sided Student t
/// interval at `Confidence`. Interval above 0: reproduced; below 0: contradicted; otherwise, or with fewer than two
/// seeds, inconclusive. The claim holds when every comparison reproduces; it is contradicted when any contradicts.
type DecisionRule = { Confidence: float }

/// An SFT run that RL arms start from: the same for every arm of a seed, run once per (recipe, seed) and shared by
/// every experiment that names the same recipe.
type SftRecipe = { Name: string; Overrides: Override list }

type Kind =
    /// Every cell is `klear train` with RL skipped (trainer.steps=0); the outcome is the evaluation after SFT.
    | SftOnly
    /// Every cell starts RL from the recipe's checkpoint of its seed (model.path=..., sft.steps=0).
    | RlFrom of SftRecipe

/// The SFT checkpoint a preparation step reads, e.g. a reference policy.
type SftNeed = { Recipe: SftRecipe; Seed: int64 }

/// A `klear` command that writes a data file the arms read (e.g. `data synthetic-code --out {out} ...`), run once
/// per work folder before any cell; `{out}` is `{data}/Output`. Overrides name the file as `{data}/Output`, and
/// `{data}` becomes the work folder's data/ when a cell starts, so stored arguments do not depend on the machine.
/// A step whose arguments (or the SFT run it needs) changed runs again.
type PrepareStep =
    { Output: string
      Arguments: string list
      /// The SFT run whose checkpoint the command reads as `{model}`: the runner finishes that run first.
      Needs: SftNeed option
      /// The command writes a JSON summary to `{summary}`; it is stored with the results of every experiment that
      /// prepares this file (results/NAME/data/) and shown in the experiment's table.
      Summary: bool
      /// The arguments under --quick when they differ (tiny sizes; the numbers mean nothing).
      QuickArguments: string list option
      /// Estimated minutes on this machine (one thread), measured under load; 0 for a few seconds.
      Minutes: float
      /// The output keeps some lines of this prepared file byte for byte, in order (a filter). Their line numbers are
      /// then stored with the results, so a clean machine rebuilds the file without re-running the step or its SFT.
      SubsetOf: string option }

module PrepareStep =
    /// A step that only writes data: no SFT, no summary, the same under --quick, seconds.
    let write output arguments =
        { Output = output; Arguments = arguments; Needs = None; Summary = false; QuickArguments = None; Minutes = 0.0; SubsetOf = None }

type Runnable =
    | Runnable
    /// What the trainer (or this program) lacks before the arms can be expressed honestly.
    | NotRunnable of missing: string

type Experiment =
    { Name: string
      /// Where in the paper: "Fig. 2", "Table 6".
      PaperRef: string
      /// The claim, in one line.
      Claim: string
      /// What the paper measured, and its numbers as a markdown table (copied from the paper, read-only data).
      PaperMetric: string
      PaperTable: string
      Kind: Kind
      /// Overrides every cell gets, before its arm's.
      Base: Override list
      Arms: Arm list
      Seeds: int64 list
      Primary: Metric
      /// Reported beside the primary metric; no verdict.
      Secondary: Metric list
      Comparisons: Comparison list
      Rule: DecisionRule
      /// How the regime (learning rate, mini-batches, difficulty, steps) was chosen, and what it does not capture.
      Regime: string
      /// Learning curves for the chart: (title, metric) panels.
      Curves: Metric list
      /// Estimated minutes for one cell and for one SFT run on this machine (one thread each), extrapolated from a
      /// tenth-length run (SFT ≈ 0.67 s/step at 128 × 3 operands, RL ≈ 4.2 s/step at 32 × 8 with 4 mini-batches,
      /// an evaluation of 400 problems ≈ 6 s), measured while other jobs shared the cores.
      CellMinutes: float
      SftMinutes: float
      /// Data files to write before the first cell (none for the built-in arithmetic task).
      Prepare: PrepareStep list
      Runnable: Runnable }

/// One arm at one seed: the unit that runs, is cached and is compared.
type Cell = { Experiment: string; Arm: string; Seed: int64 }

module Cell =
    /// The cell's folder name, `ARM__sSEED`.
    let id (c: Cell) = sprintf "%s__s%d" c.Arm c.Seed

/// A row of metrics.jsonl.
type Row = { Phase: string; Step: int64; Values: Map<string, float> }

/// What a finished cell left under results/NAME/cells/ARM__sSEED/.
type CellResult =
    { Cell: Cell
      Rows: Row list
      /// report.json's numbers (sft_accuracy, rl_accuracy, seconds, ...).
      Final: Map<string, float>
      GitCommit: string
      WallSeconds: float
      /// The CPU the cell ran on ("AMD EPYC (family 26, model 2), avx512"): figures differ between CPU kinds.
      Machine: string
      Quick: bool }

type Verdict =
    | Reproduced
    | Contradicted
    | Inconclusive

module Verdict =
    let name =
        function
        | Reproduced -> "reproduced"
        | Contradicted -> "contradicted"
        | Inconclusive -> "inconclusive"

module Experiment =
    let arm (e: Experiment) name =
        match e.Arms |> List.tryFind (fun a -> a.Name = name) with
        | Some a -> a
        | None -> invalidArg "name" (sprintf "experiment %s has no arm '%s' (arms: %s)" e.Name name (e.Arms |> List.map _.Name |> String.concat ", "))

    let cells (e: Experiment) =
        [ for s in e.Seeds do
              for a in e.Arms -> { Experiment = e.Name; Arm = a.Name; Seed = s } ]

    /// Checks what the types cannot: unique arm names, comparisons naming arms, at least one seed.
    let validate (e: Experiment) =
        let names = e.Arms |> List.map _.Name
        [ if List.isEmpty e.Arms then sprintf "%s: no arms" e.Name
          if List.distinct names <> names then sprintf "%s: arm names repeat: %s" e.Name (String.concat ", " names)
          if List.isEmpty e.Seeds then sprintf "%s: no seeds" e.Name
          for c in e.Comparisons do
              for n in [ c.Treatment; c.Baseline ] do
                  if not (List.contains n names) then sprintf "%s: comparison names unknown arm '%s'" e.Name n
          for a in e.Arms do
              for o in a.Overrides @ e.Base do
                  if o.IndexOf '=' <= 0 then sprintf "%s/%s: override '%s' is not key=value" e.Name a.Name o ]

    /// Minutes of data preparation (the steps' own estimates), each distinct step once.
    let prepareMinutes (es: Experiment list) = es |> List.collect _.Prepare |> List.distinct |> List.sumBy _.Minutes

    /// The run-time estimate here, in minutes, for `jobs` cells at once; an SFT run shared by several experiments
    /// (same recipe and seed) is counted once, and so is one a preparation step needs (e.g. a reference policy).
    let estimateAll jobs (es: Experiment list) =
        let sftRuns =
            es
            |> List.collect (fun e ->
                let needs = [ for p in e.Prepare do match p.Needs with Some n -> (n.Recipe, n.Seed), e.SftMinutes | None -> () ]
                match e.Kind with
                | RlFrom r -> needs @ [ for s in e.Seeds -> (r, s), e.SftMinutes ]
                | SftOnly -> needs)
            |> List.distinctBy fst
            |> List.sumBy snd
        let cells = es |> List.sumBy (fun e -> float (e.Seeds.Length * e.Arms.Length) * e.CellMinutes)
        (sftRuns + prepareMinutes es + cells) / float (max 1 jobs)

    let estimateMinutes jobs (e: Experiment) = estimateAll jobs [ e ]
