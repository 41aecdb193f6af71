module Klear.Tests.ModelTests

open System
open System.Text.Json
open System.Text.Json.Nodes
open Expecto
open TorchSharp
open Klear.Host.Model
open Klear.Tests.ModelTestKit

/// Qwen/Qwen3-8B config.json as published on the Hugging Face hub.
let qwen3_8B = """{
  "architectures": ["Qwen3ForCausalLM"],
  "attention_bias": false,
  "attention_dropout": 0.0,
  "bos_token_id": 151643,
  "eos_token_id": 151645,
  "head_dim": 128,
  "hidden_act": "silu",
  "hidden_size": 4096,
  "initializer_range": 0.02,
  "intermediate_size": 12288,
  "max_position_embeddings": 40960,
  "max_window_layers": 36,
  "model_type": "qwen3",
  "num_attention_heads": 32,
  "num_hidden_layers": 36,
  "num_key_value_heads": 8,
  "rms_norm_eps": 1e-06,
  "rope_scaling": null,
  "rope_theta": 1000000,
  "sliding_window": null,
  "tie_word_embeddings": false,
  "torch_dtype": "bfloat16",
  "transformers_version": "4.51.0",
  "use_cache": true,
  "use_sliding_window": false,
  "vocab_size": 151936
}"""

/// The same with Qwen's documented YaRN block for long contexts.
let qwen3_8B_yarn =
    qwen3_8B.Replace("\"rope_scaling\": null", "\"rope_scaling\": {\"rope_type\": \"yarn\", \"factor\": 4.0, \"original_max_position_embeddings\": 32768}")

/// Structural JSON equality with numbers compared by value (1e-06 = 1E-06, 1000000 = 1000000.0).
let rec jsonEqual (a: JsonNode | null) (b: JsonNode | null) =
    match a, b with
    | null, null -> true
    | null, _ | _, null -> false
    | (:? JsonObject as x), (:? JsonObject as y) ->
        x.Count = y.Count && x |> Seq.forall (fun kv -> y.ContainsKey kv.Key && jsonEqual kv.Value y.[kv.Key])
    | (:? JsonArray as x), (:? JsonArray as y) -> x.Count = y.Count && Seq.forall2 jsonEqual x y
    | (:? JsonValue as x), (:? JsonValue as y) ->
        match x.GetValueKind(), y.GetValueKind() with
        | JsonValueKind.Number, JsonValueKind.Number -> x.GetValue<double>() = y.GetValue<double>()
        | kx, ky -> kx = ky && x.ToJsonString() = y.ToJsonString()
    | _ -> false

let paramShapes (m: Qwen3ForCausalLM) =
    [ for struct (n, p) in m.named_parameters() -> n, List.ofArray p.shape ] |> List.sortBy fst

[<Tests>]
let tests =
    testSequenced <| testList "model" [
        test "Qwen3-8B config.json binds every key and round-trips unchanged" {
            let c = Qwen3Config.FromJson qwen3_8B
            Expect.equal (c.HiddenSize, c.NumHiddenLayers, c.NumAttentionHeads, c.NumKeyValueHeads) (4096, 36, 32, 8) "sizes"
            Expect.equal (c.HeadDim, c.IntermediateSize, c.VocabSize, c.MaxPositionEmbeddings) (128, 12288, 151936, 40960) "dims"
            Expect.equal (c.RmsNormEps, c.RopeTheta, c.TieWordEmbeddings) (1e-6, 1e6, false) "eps, theta, tie"
            Expect.isNull (box c.RopeScaling) "no rope_scaling"
            c.Validate()
            Expect.isTrue (jsonEqual (JsonNode.Parse qwen3_8B) (JsonNode.Parse(c.ToJson()))) "written config equals the original"
        }

        test "a YaRN rope_scaling block binds and round-trips" {
            let c = Qwen3Config.FromJson qwen3_8B_yarn
            Expect.equal (nonNull c.RopeScaling).Kind "yarn" "kind from rope_type"
            Expect.equal ((nonNull c.RopeScaling).Factor, (nonNull c.RopeScaling).OriginalMaxPositionEmbeddings) (Nullable 4.0, Nullable 32768) "factor, original"
            Expect.isTrue (jsonEqual (JsonNode.Parse qwen3_8B_yarn) (JsonNode.Parse(c.ToJson()))) "round trip"
            let legacy = Qwen3Config.FromJson(qwen3_8B.Replace("\"rope_scaling\": null", "\"rope_scaling\": {\"type\": \"yarn\", \"factor\": 2.5}"))
            Expect.equal (nonNull legacy.RopeScaling).Kind "yarn" "kind from the older 'type' key"
        }

        test "an unsupported config is rejected naming the key" {
            let bad = Qwen3Config.FromJson(qwen3_8B.Replace("\"num_key_value_heads\": 8", "\"num_key_value_heads\": 5"))
            let ex = try bad.Validate(); "" with :? ArgumentException as e -> e.Message
            Expect.stringContains ex "num_key_value_heads" "message names the key"
        }

        test "plain RoPE frequencies equal theta^(-2i/d)" {
            let c = Qwen3Config.FromJson qwen3_8B
            let struct (inv, scale) = RotaryEmbedding.Frequencies c
            Expect.equal scale 1.0 "no cos/sin scaling"
            Expect.equal inv.Length 64 "d/2 frequencies"
            for i in 0 .. 63 do
                Expect.floatClose Accuracy.veryHigh inv.[i] (Math.Exp(-(float (2 * i) / 128.0) * Math.Log 1e6)) $"inv_freq[{i}]"
        }

        test "YaRN frequencies: unchanged above beta_fast rotations, divided by the factor below beta_slow, linear ramp between" {
            // Qwen3-8B, factor 4 over 32,768: the ramp runs over dimension pairs floor(23.6) = 23 to ceil(39.6) = 40, from
            // d·ln(L / (2π·β)) / (2 ln θ) with β = 32 and 1 (computed by hand for this test).
            let c = Qwen3Config.FromJson qwen3_8B_yarn
            let struct (inv, scale) = RotaryEmbedding.Frequencies c
            let plain = plainInvFreq 1e6 128
            let lowExpected = 128.0 * log (32768.0 / (2.0 * Math.PI * 32.0)) / (2.0 * log 1e6)
            let highExpected = 128.0 * log (32768.0 / (2.0 * Math.PI)) / (2.0 * log 1e6)
            Expect.equal (floor lowExpected, ceil highExpected) (23.0, 40.0) "hand-computed correction range"
            for i in 0 .. 63 do
                let ramp = Math.Clamp((float i - 23.0) / (40.0 - 23.0), 0.0, 1.0)
                let expected = plain.[i] * (1.0 - ramp) + plain.[i] / 4.0 * ramp
                Expect.floatClose Accuracy.veryHigh inv.[i] expected $"yarn inv_freq[{i}]"
            Expect.floatClose Accuracy.veryHigh inv.[0] plain.[0] "highest frequency untouched"
            Expect.floatClose Accuracy.veryHigh inv.[63] (plain.[63] / 4.0) "lowest frequency interpolated"
            Expect.floatClose Accuracy.veryHigh scale (0.1 * log 4.0 + 1.0) "mscale = 0.1 ln s + 1"
        }

        test "parameter names and shapes of the tiny preset (tied) and the bench preset (GQA, untied)" {
            use tiny = new Qwen3ForCausalLM(Qwen3Config.Tiny())
            let layer l =
                [ $"model.layers.{l}.input_layernorm.weight", [128L]
                  $"model.layers.{l}.mlp.down_proj.weight", [128L; 512L]
                  $"model.layers.{l}.mlp.gate_proj.weight", [512L; 128L]
                  $"model.layers.{l}.mlp.up_proj.weight", [512L; 128L]
                  $"model.layers.{l}.post_attention_layernorm.weight", [128L]
                  $"model.layers.{l}.self_attn.k_norm.weight", [32L]
                  $"model.layers.{l}.self_attn.k_proj.weight", [128L; 128L]
                  $"model.layers.{l}.self_attn.o_proj.weight", [128L; 128L]
                  $"model.layers.{l}.self_attn.q_norm.weight", [32L]
                  $"model.layers.{l}.self_attn.q_proj.weight", [128L; 128L]
                  $"model.layers.{l}.self_attn.v_proj.weight", [128L; 128L] ]
            let expected =
                [ "model.embed_tokens.weight", [23L; 128L]; "model.norm.weight", [128L] ] @ layer 0 @ layer 1 @ layer 2
                |> List.sortBy fst
            Expect.sequenceEqual (paramShapes tiny) expected "tiny: no lm_head (tied), no inv_freq"
            let count = paramShapes tiny |> List.sumBy (fun (_, s) -> List.reduce (*) s)
            Expect.equal count (23L * 128L + 128L + 3L * (4L * 128L * 128L + 3L * 512L * 128L + 2L * 128L + 2L * 32L)) "parameter count"

            use bench = new Qwen3ForCausalLM(Qwen3Config.Bench())
            let shapes = paramShapes bench |> Map.ofList
            Expect.equal shapes.["lm_head.weight"] [512L; 256L] "untied head"
            Expect.equal shapes.["model.layers.3.self_attn.k_proj.weight"] [128L; 256L] "2 KV heads × 64"
            Expect.equal shapes.["model.layers.3.self_attn.q_proj.weight"] [256L; 256L] "4 heads × 64"
            Expect.isFalse (shapes.ContainsKey "model.layers.4.mlp.up_proj.weight") "4 layers"
        }

        test "projection weights are stored [in, out] and keep their [out, in] values through bf16 copies, checkpoints and gradients" {
            // WeightLayout: the layout is storage only. CI runs with the default (stored [in, out]).
            Expect.isTrue WeightLayout.Transposed $"{WeightLayout.Variable} is unset in the test run"
            let isProjection (name: string) = name.EndsWith "_proj.weight" || name = "lm_head.weight"
            let projections (m: Qwen3ForCausalLM) =
                [ for struct (n, p) in m.named_parameters() do if isProjection n then n, (p :> torch.Tensor) ]
            use m = seededModel (gqaConfig ()) 15L
            Expect.equal (projections m).Length (2 * 7 + 1) "7 projections per layer and the head"
            for n, p in projections m do
                Expect.isTrue (WeightLayout.IsTransposed p) $"{n} stored [in, out] (strides [{p.stride(0)}, {p.stride(1)}])"
            for struct (n, p) in m.named_parameters() do
                if not (isProjection n) then Expect.isTrue (p.is_contiguous()) $"{n} (norms, embeddings) stored as usual"

            use copy = m.CopyAs(torch.bfloat16)
            for (n, p), (_, q) in List.zip (projections m) (projections copy) do
                Expect.isTrue (WeightLayout.IsTransposed q) $"bf16 copy: {n}"
                Expect.isLessThan (maxAbsDiff (toArray q) (toArray p)) 0.02 $"bf16 copy: {n} values at the same [out, in] indices"

            // The file holds [out, in] row-major: what an independent reader of the bytes (contiguous()) expects.
            let dir = tempDir "layout"
            Klear.Host.Checkpoints.HfCheckpoint.Save(m, dir)
            let checkFile () =
                use f = Klear.Host.Checkpoints.SafeTensorsFile.Open(IO.Path.Combine(dir, Klear.Host.Checkpoints.HfCheckpoint.SingleFile))
                for n, p in projections m do
                    use stored = f.ReadFloat32 n
                    Expect.sequenceEqual (List.ofArray stored.shape) (List.ofArray p.shape) $"file shape of {n}"
                    Expect.equal (toArray stored) (toArray p) $"file values of {n}"
            checkFile ()
            use loaded = new Qwen3ForCausalLM(gqaConfig ())
            Klear.Host.Checkpoints.HfCheckpoint.LoadWeights(loaded, dir)
            for (n, p), (_, q) in List.zip (projections m) (projections loaded) do
                Expect.isTrue (WeightLayout.IsTransposed q) $"loaded: {n} keeps the layout"
                Expect.equal (toArray q) (toArray p) $"loaded: {n} values"

            // Autograd gives a dense parameter's gradient the parameter's strides, so AdamW's elementwise steps and the
            // all-reduce's flatten/copy back see one layout throughout.
            use logits = m.forward(CausalLMInput(longTensor [| 3L; 1L; 4L; 1L; 5L |] [| 1L; 5L |]))
            use loss = logits.square().mean()
            loss.backward()
            for struct (n, p) in m.named_parameters() do
                if isProjection n then Expect.isTrue (WeightLayout.IsTransposed p.grad) $"gradient of {n} stored [in, out]"
        }

        test "InitializeWeights draws every weight in [out, in] order, whatever its storage" {
            // Independent recomputation: the same generator filling contiguous tensors of each parameter's shape.
            use m = new Qwen3ForCausalLM(gqaConfig ())
            m.InitializeWeights(21L) |> ignore
            let g = new torch.Generator(21UL)
            use _ = torch.no_grad()
            for struct (n, p) in m.named_parameters() do
                let expected =
                    if n.EndsWith "norm.weight" then torch.ones(p.shape)
                    else torch.empty(p.shape).normal_(0.0, 0.2, g)
                Expect.equal (toArray p) (toArray expected) $"{n}"
        }

        test "logits equal an independent float64 reference (GQA, head_dim override, untied)" {
            use m = seededModel (gqaConfig ()) 11L
            let ids = [| 3; 17; 0; 36; 5; 5; 21 |]
            use logits = m.forward(CausalLMInput(longTensor (ids |> Array.map int64) [| 1L; int64 ids.Length |]))
            let expected = referenceLogits m (plainInvFreq 10000.0 16) 1.0 ids |> Array.concat |> Array.map float32
            let diff = maxAbsDiff (toArray logits) expected
            Expect.isLessThan diff 1e-4 "max |logit - reference|"
        }

        test "logits equal the reference with YaRN scaling and tied embeddings" {
            let c = gqaConfig ()
            let c = Qwen3Config(VocabSize = c.VocabSize, HiddenSize = c.HiddenSize, IntermediateSize = c.IntermediateSize,
                                NumHiddenLayers = 1, NumAttentionHeads = 4, NumKeyValueHeads = 4, HeadDimOverride = Nullable 8,
                                MaxPositionEmbeddings = 64, RopeTheta = 100.0, TieWordEmbeddings = true, InitializerRange = 0.2,
                                RopeScaling = RopeScaling(RopeType = "yarn", Factor = Nullable 3.0, OriginalMaxPositionEmbeddings = Nullable 16))
            use m = seededModel c 12L
            let ids = [| 1; 2; 3; 4; 5; 6; 7; 8; 9; 10; 30 |]
            use logits = m.forward(CausalLMInput(longTensor (ids |> Array.map int64) [| 1L; int64 ids.Length |]))
            // HF's ramp for d = 8, θ = 100, L = 16: low = max(floor(8 ln(16/(64π)) / (2 ln 100)), 0) = 0,
            // high = ceil(8 ln(16/(2π)) / (2 ln 100)) = ceil(0.812) = 1.
            let plain = plainInvFreq 100.0 8
            let inv = plain |> Array.mapi (fun i f -> let r = Math.Clamp(float i, 0.0, 1.0) in f * (1.0 - r) + f / 3.0 * r)
            let expected = referenceLogits m inv (0.1 * log 3.0 + 1.0) ids |> Array.concat |> Array.map float32
            Expect.isLessThan (maxAbsDiff (toArray logits) expected) 1e-4 "max |logit - reference|"
        }

        test "left padding changes nothing: a padded row's logits equal the unpadded sequence's" {
            use m = seededModel (gqaConfig ()) 13L
            use _ = torch.no_grad()
            let ids = [| 4L; 8L; 15L; 16L |]
            use alone = m.forward(CausalLMInput(longTensor (ids) [| 1L; 4L |]))
            use padded = longTensor (Array.append [| 0L; 0L; 0L |] ids) [| 1L; 7L |]
            use mask = longTensor ([| 0L; 0L; 0L; 1L; 1L; 1L; 1L |]) [| 1L; 7L |]
            use out = m.forward(CausalLMInput(padded, mask))
            Expect.isLessThan (maxAbsDiff (toArray (out.narrow(1, 3, 4))) (toArray alone)) 1e-5 "real positions"
            Expect.isTrue (toArray out |> Array.forall Single.IsFinite) "pad positions are finite too (no -inf mask NaNs)"
        }

        test "shape checks throw naming both shapes instead of killing the process" {
            use m = seededModel (gqaConfig ()) 14L
            Expect.throwsT<ArgumentException> (fun () -> m.forward(CausalLMInput(torch.zeros([| 2L; 3L; 4L |], torch.int64))) |> ignore) "3-d ids"
            let msg = try m.forward(CausalLMInput(torch.zeros([| 2L; 3L |], torch.int64), torch.ones([| 2L; 5L |], torch.int64))) |> ignore; "" with :? ArgumentException as e -> e.Message
            Expect.stringContains msg "[2, 5]" "actual mask shape"
            Expect.stringContains msg "past+T=3" "expected length"
            let msg = try m.Logits(torch.zeros(2L, 31L)) |> ignore; "" with :? ArgumentException as e -> e.Message
            Expect.stringContains msg "[2, 31]" "LM head input checked before the matmul"
        }
    ]
