namespace Klear.Algorithms

open System

/// The named objectives (the closed registry the CLI and configs use) and the combinators on PolicyObjective.
type ObjectiveName =
    | PpoName
    | ClipHigherName
    | GppoName
    | GppoGeneralName
    | GppoOnlyHighName
    | CispoName
    | GspoName
    /// CISPO in TRL's convention: only the cap sg(min(r, 1 + eps_high)), no lower bound.
    | CispoCappedName
    /// CE-GPPO: GPPO general with CE-GPPO's β1 = 0.75, β2 = 1.
    | CeGppoName
    /// SAPO's soft sigmoid gate (tau_pos / tau_neg).
    | SapoName
    /// GMPO (verl's geo_mean): geometric mean of token ratios per sequence, clipped in log space.
    | GmpoName

/// The knobs a named objective may read; the defaults are ObjectiveDefaults'.
type ObjectiveSettings =
    { EpsLow: float
      /// None: the objective's own default (Objective.defaultEpsHigh).
      EpsHigh: float option
      DualClip: float option
      Beta1: float
      Beta2: float
      TauPos: float
      TauNeg: float }

    /// The bare objectives of the paper: no dual clip.
    static member Default =
        { EpsLow = ObjectiveDefaults.EpsLow; EpsHigh = None; DualClip = None
          Beta1 = ObjectiveDefaults.Beta; Beta2 = ObjectiveDefaults.Beta
          TauPos = ObjectiveDefaults.SapoTauPos; TauNeg = ObjectiveDefaults.SapoTauNeg }

    /// What training uses unless told otherwise: the defaults plus the released recipe's dual clip.
    static member Recipe = { ObjectiveSettings.Default with DualClip = Some ObjectiveDefaults.RecipeDualClip }

/// A setting a named objective cannot use. Setting is the objective's own spelling ("name", "eps_low", "eps_high",
/// "dual_clip", "beta1", "beta2", "tau_pos", "tau_neg") so that each caller can translate it to its key or option.
type ObjectiveSettingException(setting: string, message: string) =
    inherit ArgumentException(message)
    member _.Setting = setting

module Objective =
    let all =
        [ PpoName; ClipHigherName; GppoName; GppoGeneralName; GppoOnlyHighName; CispoName; GspoName; CispoCappedName
          CeGppoName; SapoName; GmpoName ]

    let name =
        function
        | PpoName -> "ppo"
        | ClipHigherName -> "clip-higher"
        | GppoName -> "gppo"
        | GppoGeneralName -> "gppo-general"
        | GppoOnlyHighName -> "gppo-only-high"
        | CispoName -> "cispo"
        | GspoName -> "gspo"
        | CispoCappedName -> "cispo-capped"
        | CeGppoName -> "ce-gppo"
        | SapoName -> "sapo"
        | GmpoName -> "gmpo"

    /// Every registered name, in registry order (for C# callers and suggestions).
    let names = all |> List.map name |> Array.ofList

    let parse (text: string) = Names.parse "objective" name all text

    /// ε_high when the settings leave it out: PPO is symmetric, every other objective takes DAPO's clip-higher value.
    let defaultEpsHigh (objectiveName: ObjectiveName) (epsLow: float) =
        if objectiveName = PpoName then epsLow else ObjectiveDefaults.EpsHigh

    /// Dual clip (Ye et al. 2020, active in the released recipes with c = 10): for A<0 the loss is capped at -A·c.
    /// CISPO is unchanged by it: its weight is already bounded by the clamp (docs/objectives.md, A<0 and r>c: 1+εh).
    /// SAPO's gate and GMPO's log-space clip bound the loss already; they are unchanged too.
    let dualClip (c: float) (objective: PolicyObjective) =
        if not (c > 1.0) then invalidArg "c" $"dual clip c must be > 1, got {c}"
        match objective with
        | Clipped spec -> Clipped { spec with DualClip = Some c }
        | Cispo _ | Sapo _ | Gmpo _ -> objective

    /// Per-token loss and metrics of an objective on a validated batch. Importance weights, when the batch has
    /// them, multiply every objective's per-token loss as a detached factor (the same place for all).
    let tokenLoss (objective: PolicyObjective) (batch: PolicyBatch) : TokenLoss =
        let batch = PolicyBatch.validate batch
        let tokens =
            match objective with
            | Clipped spec -> Ppo.tokenLoss spec batch
            | Cispo bound -> Cispo.tokenLoss bound batch
            | Sapo spec -> Sapo.tokenLoss spec batch
            | Gmpo spec -> Gmpo.tokenLoss spec batch
        match batch.IsWeights with
        | Some w -> { tokens with Loss = tokens.Loss * Tensors.sg w }
        | None -> tokens

    /// True when autograd's gradient is the derivative of the forward value (no stop-gradient shapes it), so central
    /// finite differences of the loss must match it: PPO/clip-higher/GSPO (bounds that stop), SAPO, GMPO. GPPO's
    /// preserved bounds and CISPO's detached weight give gradients the forward value does not have.
    let gradientIsDerivative (objective: PolicyObjective) =
        match objective with
        | Clipped spec -> spec.Low = Stop && spec.High = Stop
        | Cispo _ -> false
        | Sapo _ | Gmpo _ -> true

    /// True when a token's loss depends on the other tokens of its sequence (GSPO, GMPO): such objectives assume one
    /// advantage per sequence.
    let isSequenceLevel (objective: PolicyObjective) =
        match objective with
        | Clipped spec -> spec.Level = SequenceRatio
        | Gmpo _ -> true
        | Cispo _ | Sapo _ -> false

    /// The first setting the objective cannot use, as (setting, message).
    let private problem (objectiveName: ObjectiveName) (s: ObjectiveSettings) (range: ClipRange) =
        let badBeta (b: float) = not (b >= 0.0 && Double.IsFinite b)
        match ClipRange.check range, s.DualClip with
        | Error e, _ -> Some e
        | Ok _, Some c when not (c > 1.0) -> Some("dual_clip", $"dual clip c must be > 1, got {c}")
        | Ok _, _ when objectiveName = GppoGeneralName && badBeta s.Beta1 -> Some("beta1", $"beta1 must be >= 0, got {s.Beta1}")
        | Ok _, _ when objectiveName = GppoGeneralName && badBeta s.Beta2 -> Some("beta2", $"beta2 must be >= 0, got {s.Beta2}")
        | Ok _, _ when objectiveName = SapoName && not (s.TauPos > 0.0 && Double.IsFinite s.TauPos) ->
            Some("tau_pos", $"tau_pos must be > 0, got {s.TauPos}")
        | Ok _, _ when objectiveName = SapoName && not (s.TauNeg > 0.0 && Double.IsFinite s.TauNeg) ->
            Some("tau_neg", $"tau_neg must be > 0, got {s.TauNeg}")
        | _ -> None

    let private buildChecked (objectiveName: ObjectiveName) (s: ObjectiveSettings) =
        let range = { EpsLow = s.EpsLow; EpsHigh = s.EpsHigh |> Option.defaultWith (fun () -> defaultEpsHigh objectiveName s.EpsLow) }
        match problem objectiveName s range with
        | Some e -> Error e
        | None ->
            let objective =
                match objectiveName with
                | PpoName -> Clipped { Ppo.ppo s.EpsLow with Range = range }
                | ClipHigherName -> Clipped(Ppo.clipHigher range)
                | GppoName -> Clipped(Gppo.gppo range)
                | GppoGeneralName -> Clipped(Gppo.gppoGeneral range s.Beta1 s.Beta2)
                | GppoOnlyHighName -> Clipped(Gppo.gppoOnlyHigh range)
                | CispoName -> Cispo(Cispo.cispo range)
                | GspoName -> Clipped(Gspo.gspo range)
                | CispoCappedName -> Cispo(Cispo.cispoCapped (1.0 + range.EpsHigh))
                | CeGppoName -> Clipped(CeGppo.ceGppo range)
                | SapoName -> Sapo(Sapo.sapo s.TauPos s.TauNeg)
                | GmpoName -> Gmpo(Gmpo.gmpo range)
            Ok(match s.DualClip with Some c -> dualClip c objective | None -> objective)

    /// Builds a named objective; errors name the offending setting.
    let build (objectiveName: ObjectiveName) (s: ObjectiveSettings) : Result<PolicyObjective, string> =
        buildChecked objectiveName s |> Result.mapError snd

    /// The one way to build an objective from plain values (what configs and the CLI hold); null is the default
    /// (ObjectiveSettings.Default: for eps_high the objective's own, for dual_clip off). Throws
    /// ObjectiveSettingException naming the setting.
    let fromSettings
        (objectiveName: string, epsLow: Nullable<float>, epsHigh: Nullable<float>, dualClip: Nullable<float>,
         beta1: Nullable<float>, beta2: Nullable<float>, tauPos: Nullable<float>, tauNeg: Nullable<float>)
        : PolicyObjective =
        let d = ObjectiveSettings.Default
        let value (x: Nullable<float>) fallback = if x.HasValue then x.Value else fallback
        let settings =
            { EpsLow = value epsLow d.EpsLow
              EpsHigh = Option.ofNullable epsHigh
              DualClip = Option.ofNullable dualClip
              Beta1 = value beta1 d.Beta1
              Beta2 = value beta2 d.Beta2
              TauPos = value tauPos d.TauPos
              TauNeg = value tauNeg d.TauNeg }
        match parse (if isNull objectiveName then "" else objectiveName) |> Result.mapError (fun e -> "name", e)
              |> Result.bind (fun n -> buildChecked n settings) with
        | Ok objective -> objective
        | Error(setting, message) -> raise (ObjectiveSettingException(setting, message))

    /// The clip settings an objective really applies, for display: (eps_low, eps_high, dual clip or NaN, beta1, beta2)
    /// with β = 0 for a bound that stops the gradient. CISPO's clamp reports its range; the capped form eps_low NaN;
    /// GMPO its log-space range; SAPO has no clip (NaN) and its temperatures are in `temperatures`.
    let effective (objective: PolicyObjective) =
        let beta = function Stop -> 0.0 | Preserve b -> b
        match objective with
        | Clipped spec ->
            struct (spec.Range.EpsLow, spec.Range.EpsHigh, Option.defaultValue Double.NaN spec.DualClip, beta spec.Low, beta spec.High)
        | Cispo(Clamp range) -> struct (range.EpsLow, range.EpsHigh, Double.NaN, 1.0, 1.0)
        | Cispo(UpperCap cap) -> struct (Double.NaN, cap - 1.0, Double.NaN, 1.0, 1.0)
        | Gmpo spec -> struct (spec.LogRange.EpsLow, spec.LogRange.EpsHigh, Double.NaN, 0.0, 0.0)
        | Sapo _ -> struct (Double.NaN, Double.NaN, Double.NaN, Double.NaN, Double.NaN)

    /// SAPO's (tau_pos, tau_neg), for display; NaN for every other objective.
    let temperatures (objective: PolicyObjective) =
        match objective with
        | Sapo spec -> struct (spec.TauPos, spec.TauNeg)
        | Clipped _ | Cispo _ | Gmpo _ -> struct (Double.NaN, Double.NaN)
