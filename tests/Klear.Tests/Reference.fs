/// Independent scalar references for the objectives, written from docs/objectives.md in plain doubles
/// (no TorchSharp, no Klear code): the paper's max/min forms for values and the spec's table for gradients.
module Klear.Tests.Reference

type Objective =
    | ClipHigher
    | Gppo
    | General of beta1: float * beta2: float
    | OnlyHigh
    | Cispo

type Token = { Loss: float; Grad: float }

let clamp lo hi (x: float) = max lo (min hi x)

/// Loss and dl/dlogp of one token with old log-prob 0, log-prob ln r.
let token (objective: Objective) (epsLow: float, epsHigh: float) (dual: float option) (r: float, a: float) : Token =
    let clipR = clamp (1.0 - epsLow) (1.0 + epsHigh) r
    match objective with
    | Cispo -> { Loss = -clipR * a * log r; Grad = -a * clipR }
    | _ ->
        // PPO / clip-higher value, Eq. 5–7: max(-A·r, -A·clip(r)); GPPO's value is the same (Eq. 11).
        let ppoValue = max (-a * r) (-a * clipR)
        let lowRegion = a < 0.0 && r < 1.0 - epsLow
        let highRegion = a > 0.0 && r > 1.0 + epsHigh
        let beta1, beta2 =
            match objective with
            | General (b1, b2) -> b1, b2
            | _ -> 1.0, 1.0
        let value =
            match objective with
            | General _ when lowRegion -> -beta1 * (1.0 - epsLow) * a
            | General _ when highRegion -> -beta2 * (1.0 + epsHigh) * a
            | _ -> ppoValue
        // F from the spec's table.
        let f =
            if a = 0.0 then 0.0
            elif highRegion then
                match objective with
                | ClipHigher -> 0.0
                | Gppo | OnlyHigh -> 1.0 + epsHigh
                | General (_, b2) -> b2 * (1.0 + epsHigh)
                | Cispo -> failwith "unreachable"
            elif lowRegion then
                match objective with
                | ClipHigher | OnlyHigh -> 0.0
                | Gppo -> 1.0 - epsLow
                | General (b1, _) -> b1 * (1.0 - epsLow)
                | Cispo -> failwith "unreachable"
            else r
        match dual with
        | Some c when a < 0.0 && value > -a * c -> { Loss = -a * c; Grad = 0.0 }
        | _ -> { Loss = value; Grad = -a * f }

/// The knobs the closed forms below read (the objective's own defaults where an objective ignores one).
type Settings =
    { EpsLow: float
      EpsHigh: float
      Dual: float option
      Beta1: float
      Beta2: float
      TauPos: float
      TauNeg: float }

let private sigmoid (x: float) = 1.0 / (1.0 + exp -x)

/// One token of an objective without a sequence-level ratio: Some(loss, dl/dlogp), or None for a sequence-level one.
let private tokenOf (name: string) (s: Settings) (r: float, a: float) : Token option =
    let eps = s.EpsLow, s.EpsHigh
    match name with
    | "ppo" | "clip-higher" -> Some(token ClipHigher eps s.Dual (r, a))
    | "gppo" -> Some(token Gppo eps s.Dual (r, a))
    | "gppo-general" -> Some(token (General(s.Beta1, s.Beta2)) eps s.Dual (r, a))
    | "gppo-only-high" -> Some(token OnlyHigh eps s.Dual (r, a))
    // CE-GPPO's published βs (arXiv 2509.20712, its scripts): 0.75 low, 1 high.
    | "ce-gppo" -> Some(token (General(0.75, 1.0)) eps s.Dual (r, a))
    | "cispo" -> Some(token Cispo eps None (r, a))
    | "cispo-capped" ->
        let w = min r (1.0 + s.EpsHigh)
        Some { Loss = -w * a * log r; Grad = -a * w }
    | "sapo" ->
        // f(r) = (4/τ)·σ(τ(r-1)); d f/d logp = 4·σ·(1-σ)·r.
        let tau = if a > 0.0 then s.TauPos else s.TauNeg
        let g = sigmoid (tau * (r - 1.0))
        Some { Loss = -a * 4.0 / tau * g; Grad = -a * 4.0 * g * (1.0 - g) * r }
    | _ -> None

/// One sequence (old log-prob 0, log-prob ln r_t per token) aggregated as seq-mean-token-mean, i.e. the mean of its
/// token losses: Some(loss, [dloss/dlogp_t]) for every registered objective, None for a name with no closed form here
/// (the shared test list fails on such a name). GSPO and GMPO want one advantage per sequence.
let sequence (name: string) (s: Settings) (tokens: (float * float) list) : (float * float list) option =
    let n = float tokens.Length
    match name with
    | "gspo" ->
        // s = exp(mean ln r); the PPO clip on s; every token carries the same value; dl/dlogp_t = -A·s/n inside.
        let a = snd tokens.Head
        let sr = exp (tokens |> List.averageBy (fst >> log))
        let t = token ClipHigher (s.EpsLow, s.EpsHigh) s.Dual (sr, a)
        let g = if t.Grad = 0.0 then 0.0 else -a * sr / n
        Some(t.Loss, List.replicate tokens.Length g)
    | "gmpo" ->
        // d' = min(d, εh) for A>0, max(d, -εl) for A<0, 0 for A = 0; R = exp(mean d'); loss = -mean(A)·R.
        let clipped (r, a) =
            let d = log r
            if a > 0.0 then (if d > s.EpsHigh then s.EpsHigh, false else d, true)
            elif a < 0.0 then (if d < -s.EpsLow then -s.EpsLow, false else d, true)
            else 0.0, false
        let parts = tokens |> List.map clipped
        let rr = exp (parts |> List.averageBy fst)
        let meanA = tokens |> List.averageBy snd
        Some(-meanA * rr, parts |> List.map (fun (_, free) -> if free then -meanA * rr / n else 0.0))
    | _ ->
        let each = tokens |> List.map (tokenOf name s)
        if each |> List.exists Option.isNone then None
        else
            let ts = each |> List.map Option.get
            Some(ts |> List.averageBy (fun t -> t.Loss), ts |> List.map (fun t -> t.Grad / n))
