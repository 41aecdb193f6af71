/// Shared fixtures for the model, checkpoint and sampler tests: small configs, a seeded model, and an independent
/// reference forward pass written with plain F# arrays (no TorchSharp op, no Klear code) to compare logits against.
module Klear.Tests.ModelTestKit

open System
open System.IO
open TorchSharp
open Klear.Host.Model

/// GQA (4 heads over 2 KV heads), head_dim 16 ≠ hidden/heads, untied head: every shape path of the model differs.
let gqaConfig () =
    Qwen3Config(
        VocabSize = 37, HiddenSize = 32, IntermediateSize = 64, NumHiddenLayers = 2, NumAttentionHeads = 4,
        NumKeyValueHeads = 2, HeadDimOverride = Nullable 16, MaxPositionEmbeddings = 64, RopeTheta = 10000.0,
        TieWordEmbeddings = false, InitializerRange = 0.2)

/// Seeded init with a large std so next-token distributions are peaked and greedy choices are not near-ties.
let seededModel (config: Qwen3Config) (seed: int64) =
    let m = new Qwen3ForCausalLM(config)
    m.InitializeWeights(seed) |> ignore
    // Norm gains away from 1, so a wrong or missing norm cannot go unnoticed.
    use _ = torch.no_grad()
    let g = new torch.Generator(uint64 (seed + 1L))
    for struct (name, p) in m.named_parameters() do
        if name.EndsWith "norm.weight" then p.uniform_(0.5, 1.5, g) |> ignore
    m

let private created = System.Collections.Concurrent.ConcurrentBag<string>()
do AppDomain.CurrentDomain.ProcessExit.Add(fun _ ->
    for d in created do
        try Directory.Delete(d, true) with _ -> ())

/// A fresh directory under /tmp, deleted when the test process exits.
let tempDir (label: string) =
    let d = Path.Combine(Path.GetTempPath(), $"klear-{label}-{Guid.NewGuid():N}")
    Directory.CreateDirectory d |> ignore
    created.Add d
    d

let toArray (t: torch.Tensor) : float32[] = t.detach().contiguous().to_type(torch.float32).data<float32>().ToArray()

let maxAbsDiff (a: float32[]) (b: float32[]) =
    if a.Length <> b.Length then failwithf "lengths differ: %d vs %d" a.Length b.Length
    Array.fold2 (fun m (x: float32) (y: float32) -> max m (abs (float x - float y))) 0.0 a b

/// Plain RoPE inverse frequencies theta^(-2i/d), written from the RoFormer definition.
let plainInvFreq (theta: float) (d: int) = Array.init (d / 2) (fun i -> 1.0 / (theta ** (float (2 * i) / float d)))

/// Reference logits [T][V] of a single unpadded sequence, in float64 with explicit loops: embedding lookup, per layer
/// RMSNorm → q/k/v projections → per-head RMSNorm on q and k → rotation of pairs (i, i + d/2) by pos·invFreq[i] →
/// causal softmax attention with KV head h / (H / Hkv) → output projection → residual → RMSNorm → SwiGLU → residual,
/// final RMSNorm and the LM head. `invFreq` and `ropeScale` come from the caller (plain or YaRN closed forms).
let referenceLogits (model: Qwen3ForCausalLM) (invFreq: float[]) (ropeScale: float) (ids: int[]) : float[][] =
    let c = model.Config
    let sd = model.state_dict()
    let w (name: string) = sd.[name].detach().to_type(torch.float64).contiguous().data<float>().ToArray()
    let rows (name: string) = let t = sd.[name] in int t.shape.[0], int t.shape.[1]
    let matvec (name: string) (x: float[]) =
        let m = w name
        let o, i = rows name
        if i <> x.Length then failwithf "%s expects %d inputs, got %d" name i x.Length
        Array.init o (fun r -> let mutable s = 0.0 in (for k in 0 .. i - 1 do s <- s + m.[r * i + k] * x.[k]); s)
    let rms (gain: float[]) (x: float[]) =
        let ms = (x |> Array.sumBy (fun v -> v * v)) / float x.Length
        let r = 1.0 / sqrt (ms + c.RmsNormEps)
        Array.mapi (fun i v -> v * r * gain.[i]) x
    let h, kvh, d = c.NumAttentionHeads, c.NumKeyValueHeads, c.HeadDim
    let rotate (pos: int) (v: float[]) =
        let half = d / 2
        Array.init d (fun j ->
            let i = j % half
            let a = float pos * invFreq.[i]
            let cs, sn = cos a * ropeScale, sin a * ropeScale
            if j < half then v.[j] * cs - v.[j + half] * sn else v.[j] * cs + v.[j - half] * sn)
    let emb = w "model.embed_tokens.weight"
    let hid = c.HiddenSize
    let mutable xs = ids |> Array.map (fun t -> Array.sub emb (t * hid) hid)
    for l in 0 .. c.NumHiddenLayers - 1 do
        let p = $"model.layers.{l}."
        let normed = xs |> Array.map (rms (w (p + "input_layernorm.weight")))
        let heads (proj: string) (n: int) (norm: string option) =
            normed |> Array.mapi (fun pos x ->
                let y = matvec (p + proj) x
                Array.init n (fun hh ->
                    let v = Array.sub y (hh * d) d
                    let v = match norm with Some g -> rms (w (p + g)) v | None -> v
                    if proj = "self_attn.v_proj.weight" then v else rotate pos v))
        let q = heads "self_attn.q_proj.weight" h (Some "self_attn.q_norm.weight")
        let k = heads "self_attn.k_proj.weight" kvh (Some "self_attn.k_norm.weight")
        let v = heads "self_attn.v_proj.weight" kvh None
        let attended =
            Array.init xs.Length (fun t ->
                Array.init h (fun hh ->
                    let g = hh / (h / kvh)
                    let scores = Array.init (t + 1) (fun j -> (Array.fold2 (fun s a b -> s + a * b) 0.0 q.[t].[hh] k.[j].[g]) / sqrt (float d))
                    let mx = Array.max scores
                    let e = scores |> Array.map (fun s -> exp (s - mx))
                    let z = Array.sum e
                    Array.init d (fun j -> Seq.sum (seq { for s in 0 .. t -> e.[s] / z * v.[s].[g].[j] })))
                |> Array.concat)
        let afterAttn = Array.map2 (fun x a -> Array.map2 (+) x (matvec (p + "self_attn.o_proj.weight") a)) xs attended
        xs <- afterAttn |> Array.map (fun x ->
            let n = rms (w (p + "post_attention_layernorm.weight")) x
            let gate = matvec (p + "mlp.gate_proj.weight") n
            let up = matvec (p + "mlp.up_proj.weight") n
            let act = Array.map2 (fun g u -> g / (1.0 + exp (-g)) * u) gate up
            Array.map2 (+) x (matvec (p + "mlp.down_proj.weight") act))
    let head = if c.TieWordEmbeddings then "model.embed_tokens.weight" else "lm_head.weight"
    xs |> Array.map (fun x -> matvec head (rms (w "model.norm.weight") x))

let longTensor (values: int64[]) (shape: int64[]) = torch.tensor(values).reshape(shape)
