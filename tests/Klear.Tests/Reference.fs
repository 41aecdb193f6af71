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
