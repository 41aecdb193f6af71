namespace Klear.Algorithms

/// The named objectives (the closed registry the CLI and configs use) and the combinators on PolicyObjective.
type ObjectiveName =
    | PpoName
    | ClipHigherName
    | GppoName
    | GppoGeneralName
    | GppoOnlyHighName
    | CispoName
    | GspoName

/// The knobs a named objective may read; defaults are the paper's (docs/objectives.md).
type ObjectiveSettings =
    { EpsLow: float
      /// None: eps_low for `ppo`, 0.28 otherwise.
      EpsHigh: float option
      DualClip: float option
      Beta1: float
      Beta2: float }

    static member Default = { EpsLow = 0.2; EpsHigh = None; DualClip = None; Beta1 = 1.0; Beta2 = 1.0 }

module Objective =
    let all = [ PpoName; ClipHigherName; GppoName; GppoGeneralName; GppoOnlyHighName; CispoName; GspoName ]

    let name =
        function
        | PpoName -> "ppo"
        | ClipHigherName -> "clip-higher"
        | GppoName -> "gppo"
        | GppoGeneralName -> "gppo-general"
        | GppoOnlyHighName -> "gppo-only-high"
        | CispoName -> "cispo"
        | GspoName -> "gspo"

    let parse (text: string) = Names.parse "objective" name all text

    /// Dual clip (Ye et al. 2020, active in the released recipes with c = 10): for A<0 the loss is capped at -A·c.
    /// CISPO is unchanged by it: its weight is already bounded by the clamp (docs/objectives.md, A<0 and r>c: 1+εh).
    let dualClip (c: float) (objective: PolicyObjective) =
        if not (c > 1.0) then invalidArg "c" $"dual clip c must be > 1, got {c}"
        match objective with
        | Clipped spec -> Clipped { spec with DualClip = Some c }
        | Cispo _ -> objective

    /// Per-token loss and metrics of an objective on a validated batch.
    let tokenLoss (objective: PolicyObjective) (batch: PolicyBatch) : TokenLoss =
        let batch = PolicyBatch.validate batch
        match objective with
        | Clipped spec -> Ppo.tokenLoss spec batch
        | Cispo bound -> Cispo.tokenLoss bound batch

    /// Builds a named objective; errors name the offending setting.
    let build (objectiveName: ObjectiveName) (s: ObjectiveSettings) : Result<PolicyObjective, string> =
        let epsHigh = s.EpsHigh |> Option.defaultValue (if objectiveName = PpoName then s.EpsLow else 0.28)
        let checkBeta label (b: float) = if b >= 0.0 && System.Double.IsFinite b then Ok b else Error $"{label} must be >= 0, got {b}"
        let checkDual =
            match s.DualClip with
            | Some c when not (c > 1.0) -> Error $"dual clip c must be > 1, got {c}"
            | _ -> Ok ()
        ClipRange.validate { EpsLow = s.EpsLow; EpsHigh = epsHigh }
        |> Result.bind (fun range -> checkDual |> Result.map (fun () -> range))
        |> Result.bind (fun range ->
            match objectiveName with
            // Symmetric unless eps_high is given explicitly, which then makes it clip-higher.
            | PpoName -> Ok(Clipped { Ppo.ppo s.EpsLow with Range = range })
            | ClipHigherName -> Ok(Clipped(Ppo.clipHigher range))
            | GppoName -> Ok(Clipped(Gppo.gppo range))
            | GppoGeneralName ->
                checkBeta "beta1" s.Beta1
                |> Result.bind (fun _ -> checkBeta "beta2" s.Beta2)
                |> Result.map (fun _ -> Clipped(Gppo.gppoGeneral range s.Beta1 s.Beta2))
            | GppoOnlyHighName -> Ok(Clipped(Gppo.gppoOnlyHigh range))
            | CispoName -> Ok(Cispo(Cispo.cispo range))
            | GspoName -> Ok(Clipped(Gspo.gspo range)))
        |> Result.map (fun o -> match s.DualClip with Some c -> dualClip c o | None -> o)
