namespace Klear.Algorithms

/// Every default of an objective knob, written once; the records below, the configs and the CLI read them from here.
module ObjectiveDefaults =
    /// ε_low of the whole PPO family (PPO, DAPO, Klear-Reasoner).
    [<Literal>]
    let EpsLow = 0.2

    /// DAPO's clip-higher ε_high, the default of every objective but symmetric PPO (whose ε_high is ε_low).
    [<Literal>]
    let EpsHigh = 0.28

    /// GPPO general's β1 and β2 (1: plain GPPO).
    [<Literal>]
    let Beta = 1.0

    /// Dual clip c of the released training recipe (the bare objectives have none).
    [<Literal>]
    let RecipeDualClip = 10.0

    /// CE-GPPO's β1 (low bound, A<0) in its released 7B scripts and `compute_gppo_loss_general_beta`'s default.
    [<Literal>]
    let CeGppoBeta1 = 0.75

    /// CE-GPPO's β2 (high bound, A>0).
    [<Literal>]
    let CeGppoBeta2 = 1.0

    /// SAPO's gate temperature for A>0 tokens (verl's `actor.tau_pos` default).
    [<Literal>]
    let SapoTauPos = 1.0

    /// SAPO's gate temperature for A≤0 tokens (verl's `actor.tau_neg` default; larger: negative updates fade faster).
    [<Literal>]
    let SapoTauNeg = 1.05

/// The clip range around r = 1: tokens leave the trust region below 1 - EpsLow or above 1 + EpsHigh.
type ClipRange =
    { EpsLow: float
      EpsHigh: float }

    /// The paper's defaults (DAPO clip-higher).
    static member Default = { EpsLow = ObjectiveDefaults.EpsLow; EpsHigh = ObjectiveDefaults.EpsHigh }

module ClipRange =
    /// The first bad bound as (setting, message), or the range.
    let check (c: ClipRange) =
        if not (c.EpsLow >= 0.0 && c.EpsLow < 1.0) then Error("eps_low", $"eps_low must be in [0, 1), got {c.EpsLow}")
        elif not (c.EpsHigh >= 0.0 && System.Double.IsFinite c.EpsHigh) then Error("eps_high", $"eps_high must be >= 0, got {c.EpsHigh}")
        else Ok c

/// What a clipped token's bound does to the gradient. PPO stops it (the token is silent); GPPO keeps it through
/// r/sg(r), scaled by β (β also scales the clipped token's forward value, Appendix A.2).
type BoundGradient =
    | Stop
    | Preserve of beta: float

/// Which ratio the clip acts on: per token (PPO family) or GSPO's per-sequence ratio.
type RatioLevel =
    | TokenRatio
    | SequenceRatio

/// The PPO family in one record: PPO, clip-higher, GPPO (all variants), GSPO, each with optional dual clip.
type ClipSpec =
    { Range: ClipRange
      Low: BoundGradient
      High: BoundGradient
      DualClip: float option
      Level: RatioLevel }

/// CISPO's weight sg(w(r)): a clamp to [1 - EpsLow, 1 + EpsHigh] (MiniMax-M1), or only an upper cap (TRL).
type CispoBound =
    | Clamp of ClipRange
    | UpperCap of epsMax: float

/// SAPO's soft gate: the temperature of the sigmoid for tokens with A>0 and with A≤0.
type SapoSpec =
    { TauPos: float
      TauNeg: float }

/// GMPO's clip: the per-token log-ratio is clipped to [-EpsLow, EpsHigh] (log space, not ratio space) in the
/// direction that would raise the objective, then averaged per sequence.
type GmpoSpec = { LogRange: ClipRange }

/// Every policy objective Klear knows. A closed set: adding one is one case, one file, one test list.
type PolicyObjective =
    | Clipped of ClipSpec
    | Cispo of CispoBound
    | Sapo of SapoSpec
    | Gmpo of GmpoSpec
