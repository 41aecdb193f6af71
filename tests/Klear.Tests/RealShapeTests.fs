/// The real-model path at scaled-down real shapes: Qwen3-0.6B's config.json, `klear model init` (bf16, shards),
/// activation checkpointing, the chunked LM head at the real vocabulary, and a YaRN override of a checkpoint.
module Klear.Tests.RealShapeTests

open System
open System.IO
open System.Text.Json.Nodes
open Expecto
open TorchSharp
open Klear.Host.Configuration
open Klear.Host.Model
open Klear.Host.Checkpoints
open Klear.Host.Rollout
open Klear.Host.Training
open Klear.Host.Data
open Klear.Host.Tokenization
open Klear.Tests.ModelTestKit

let qwen3_0_6B = Repo.file [ "docs"; "models"; "Qwen3-0.6B"; "config.json" ]

/// The fixture with fewer layers: every other size (hidden 1024, 16/8 heads × 128, MLP 3072, vocab 151,936) is real.
let cutConfigFile (layers: int) =
    let json = JsonNode.Parse(File.ReadAllText qwen3_0_6B) |> nonNull
    json.["num_hidden_layers"] <- JsonValue.Create layers
    let path = Path.Combine(tempDir "cut-config", "config.json")
    File.WriteAllText(path, json.ToJsonString())
    path

/// Parameters of a Qwen3 decoder from its published structure (tied head: no lm_head.weight).
let parameterCount (vocab: int64) (hidden: int64) (layers: int64) (heads: int64) (kv: int64) (d: int64) (mlp: int64) =
    let attention = hidden * heads * d + 2L * hidden * kv * d + heads * d * hidden + 2L * d
    let perLayer = attention + 3L * hidden * mlp + 2L * hidden
    vocab * hidden + layers * perLayer + hidden

let gradients (m: Qwen3ForCausalLM) = [ for struct (_, p) in m.named_parameters() -> toArray (nonNull p.grad) ] |> Array.concat

let relDiff (a: float32[]) (b: float32[]) = maxAbsDiff a b / (b |> Array.map (fun g -> abs (float g)) |> Array.max)

/// Σ w·logp + Σ u·entropy of the scorer over left-padded rows, entropy with its gradient (the bonus path).
let scoredLoss (m: Qwen3ForCausalLM) (ids: torch.Tensor) (mask: torch.Tensor) (w: torch.Tensor) (u: torch.Tensor) =
    let struct (lp, ent) = SequenceScorer.Score(m, ids, mask, 0.8, 3L, true)
    (lp * w).sum() + (ent * u).sum()

/// verl math rows in the layout of verl's MATH preprocessing (lighteval/MATH, a user message, a rule reward with the
/// ground truth), each with an SFT target in extra_info.response. The questions are short because every token of a
/// 151,936-way head costs here.
let mathRows () =
    [ "2+3?", "5"; "7*6?", "42"; "10/4?", "\\frac{5}{2}"; "15-9?", "6" ]
    |> List.mapi (fun i (q, a) ->
        let extra = JsonObject()
        extra.["index"] <- JsonValue.Create i
        extra.["split"] <- JsonValue.Create "train"
        extra.["response"] <- JsonValue.Create $"<think>{a}</think>\\boxed{{{a}}}"
        VerlRow("lighteval/MATH", [| ChatMessage("user", q) |], a, "math", extra, ""))

[<Tests>]
let tests =
    testSequenced <| testList "model real shape" [
        test "the Qwen3-0.6B config.json fixture has the published shape; its parameter count is the structure's" {
            let c = HfCheckpoint.LoadConfig(Path.GetDirectoryName qwen3_0_6B |> nonNull)
            Expect.equal (c.HiddenSize, c.NumHiddenLayers, c.NumAttentionHeads, c.NumKeyValueHeads, c.HeadDim) (1024, 28, 16, 8, 128) "sizes"
            Expect.equal (c.IntermediateSize, c.VocabSize, c.MaxPositionEmbeddings, c.TieWordEmbeddings) (3072, 151936, 40960, true) "MLP, vocab, positions, tied"
            Expect.equal (c.RopeTheta, c.RmsNormEps, c.InitializerRange) (1e6, 1e-6, 0.02) "theta, eps, init std"
            // 0.6B in total, 0.44B without the embedding, as Qwen states; checked on a 2-layer cut (no 2.4 GB model here).
            Expect.equal (parameterCount 151936L 1024L 28L 16L 8L 128L 3072L) 596_049_920L "Qwen3-0.6B: 596.0M"
            Expect.equal (parameterCount 151936L 1024L 28L 16L 8L 128L 3072L - 151936L * 1024L) 440_467_456L "0.44B non-embedding"
            use two = new Qwen3ForCausalLM(HfCheckpoint.LoadConfig(Path.GetDirectoryName(cutConfigFile 2) |> nonNull))
            Expect.equal (two.parameters() |> Seq.sumBy (fun p -> p.numel())) (parameterCount 151936L 1024L 2L 16L 8L 128L 3072L) "2-layer cut"
        }

        test "model init writes a real-shape HF directory (bf16, sharded, tokenizer), which loads back exactly" {
            let config = cutConfigFile 2
            let dir = Path.Combine(tempDir "init", "model")
            let tokenizer = TokenizerTests.writeTokenizerJson (tempDir "init-tok")
            let r = Cli.run [ "model"; "init"; "--config"; config; "--out"; dir; "--seed"; "7"; "--max-shard-size"; "200MB"; "--tokenizer"; tokenizer ]
            Expect.equal r.ExitCode 0 $"exit code ({r.Stderr})"
            let shards = Directory.GetFiles(dir, "model-*-of-*.safetensors") |> Array.sort
            Expect.equal shards.Length 2 "the 311 MB embedding alone in one shard, the layers in another"
            Expect.isTrue (File.Exists(Path.Combine(dir, HfCheckpoint.IndexFile))) "an index"
            Expect.equal (File.ReadAllText(Path.Combine(dir, "tokenizer.json"))) (File.ReadAllText tokenizer) "tokenizer copied"
            let written = JsonNode.Parse(File.ReadAllText(Path.Combine(dir, "config.json"))) |> nonNull
            let source = JsonNode.Parse(File.ReadAllText config) |> nonNull
            Expect.isTrue (ModelTests.jsonEqual written source) "config.json written as given (bf16, Qwen3ForCausalLM: as the fixture says)"
            use f = SafeTensorsFile.Open shards.[0]
            Expect.equal f.Entries.["model.embed_tokens.weight"].Dtype SafeTensorsDtype.BF16 "bf16 on disk"
            Expect.equal f.Entries.["model.embed_tokens.weight"].Shape [| 151936L; 1024L |] "real vocabulary × hidden"

            use loaded = HfCheckpoint.Load dir
            // Independently of the writer: transformers' init is N(0, 0.02) for every matrix and 1 for every norm gain.
            for struct (name, p) in loaded.named_parameters() do
                let v = p.detach()
                if name.EndsWith "norm.weight" then
                    Expect.isTrue (v.eq(torch.ones_like v).all().item<bool>()) $"{name}: all ones"
                else
                    let std = v.std().item<float32>() |> float
                    let mean = v.mean().item<float32>() |> float
                    Expect.floatClose { absolute = 0.0; relative = 0.02 } std 0.02 $"{name}: std"
                    Expect.isLessThan (abs mean) (6.0 * 0.02 / sqrt (float (v.numel()))) $"{name}: mean 0 within 6 standard errors"
            // The same seed in process gives the same weights, rounded to bf16 by libtorch.
            use again = new Qwen3ForCausalLM(loaded.Config)
            again.InitializeWeights(7L) |> ignore
            for (struct (name, a), struct (_, b)) in Seq.zip (again.named_parameters()) (loaded.named_parameters()) do
                use rounded = a.detach().to_type(torch.bfloat16).to_type(torch.float32)
                Expect.isTrue (rounded.eq(b.detach()).all().item<bool>()) $"{name}: seed 7 reproduces the file"

            let r = Cli.run [ "model"; "init"; "--config"; config; "--out"; dir ]
            Expect.equal r.ExitCode 2 "an existing model is not overwritten without --force"
            Expect.stringContains r.Stderr "--force" "says how"
            let bad = config.Replace("config.json", "bad.json")
            File.WriteAllText(bad, File.ReadAllText(config).Replace("\"num_key_value_heads\":8", "\"num_key_value_heads\":5"))
            let r = Cli.run [ "model"; "init"; "--config"; bad; "--out"; Path.Combine(tempDir "init-bad", "m") ]
            Expect.equal r.ExitCode 2 "a config the model cannot be built from"
            Expect.stringContains r.Stderr "num_key_value_heads" "names the key"
        }

        test "activation checkpointing gives the same gradients as stored activations, and really recomputes" {
            let ids, mask = SamplerTests.leftPadded ()
            use w = torch.randn([| 3L; 4L |], generator = new torch.Generator(5UL))
            use u = torch.randn([| 3L; 4L |], generator = new torch.Generator(6UL))
            let run (checkpointing: bool) =
                use m = seededModel (gqaConfig ()) 41L
                m.ActivationCheckpointing <- checkpointing
                m.train()
                use scope = torch.NewDisposeScope()
                (scoredLoss m ids mask w u).backward()
                gradients m
            let plain = run false
            let checkpointed = run true
            Expect.isGreaterThan (plain |> Array.map abs |> Array.max) 0.0f "a gradient flowed"
            Expect.isLessThanOrEqual (relDiff checkpointed plain) 1e-6 "same gradients (measured: bit-identical)"

            // Recomputation is observable: change a layer's weight between forward and backward. With stored
            // activations libtorch refuses (a saved tensor was modified in place); recomputed, backward uses the new one.
            let tamper (checkpointing: bool) =
                use m = seededModel (gqaConfig ()) 42L
                m.ActivationCheckpointing <- checkpointing
                use scope = torch.NewDisposeScope()
                let loss = scoredLoss m ids mask w u
                (use _ = torch.no_grad() in (nonNull (m.get_parameter "model.layers.0.mlp.down_proj.weight")).mul_(torch.tensor 1.5f) |> ignore)
                try loss.backward(); None with e -> Some e.Message
            Expect.stringContains (defaultArg (tamper false) "no error") "modified by an inplace operation" "stored activations: the in-place change is detected"
            Expect.isNone (tamper true) "checkpointed: nothing of layer 0 was stored"
        }

        test "the chunked LM head at the real vocabulary equals the full log-softmax: values and gradients, entropy bonus included" {
            // One small layer, Qwen3's 151,936 tokens: 441 positions per chunk (SequenceScorer.MaxChunkLogits), 598 here.
            let c = Qwen3Config(VocabSize = 151936, HiddenSize = 64, IntermediateSize = 128, NumHiddenLayers = 1, NumAttentionHeads = 2,
                                NumKeyValueHeads = 1, HeadDimOverride = Nullable 32, MaxPositionEmbeddings = 512, RopeTheta = 1e6,
                                TieWordEmbeddings = true, InitializerRange = 0.2)
            use m = seededModel c 43L
            let g = new torch.Generator(8UL)
            use ids = torch.randint(0L, 151936L, [| 2L; 300L |], generator = g)
            use w = torch.randn([| 2L; 299L |], generator = g)
            use u = torch.randn([| 2L; 299L |], generator = g)
            Expect.equal (SequenceScorer.MaxChunkLogits / 151936L) 441L "chunk length at this vocabulary"
            let struct (lp, ent) = SequenceScorer.Score(m, ids, null, 0.7, 2048L, true)
            m.zero_grad()
            ((lp * w).sum() + (ent * u).sum()).backward()
            let chunked = gradients m
            // The whole [2, 299, 151936] distribution at once, from log_softmax (not the scorer's logsumexp algebra).
            use logits = m.forward(CausalLMInput(ids)).narrow(1, 0L, 299L) / 0.7
            use full = logits.log_softmax(-1L)
            use expectedLp = full.gather(2L, ids.narrow(1, 1L, 299L).unsqueeze(-1L)).squeeze(-1L)
            use expectedEnt = -(full.exp() * full).sum(-1L)
            Expect.isLessThan (maxAbsDiff (toArray lp) (toArray expectedLp)) 1e-4 "log-probs"
            // Each entropy (~ln 151,936 ≈ 11.9) is an fp32 sum of 151,936 terms, summed in another order by each path
            // and by each CPU's kernels: rounding of order sqrt(V)·ε·H ≈ 390 · 6e-8 · 12 ≈ 3e-4 (1.01e-4 seen on Zen 3).
            Expect.isLessThan (maxAbsDiff (toArray ent) (toArray expectedEnt)) 5e-4 "entropies"
            m.zero_grad()
            ((expectedLp * w).sum() + (expectedEnt * u).sum()).backward()
            // The same fp32 sums feed the gradients (the entropy's through all 151,936 logits): 1.42e-5 seen on Zen 3.
            Expect.isLessThan (relDiff chunked (gradients m)) 5e-5 "gradients of every parameter, relative to the largest"
        }

        test "a YaRN factor override on a checkpoint trained without one gives the closed-form frequencies and logits" {
            let c = gqaConfig ()
            let c = Qwen3Config(VocabSize = c.VocabSize, HiddenSize = c.HiddenSize, IntermediateSize = c.IntermediateSize, NumHiddenLayers = 1,
                                NumAttentionHeads = 4, NumKeyValueHeads = 2, HeadDimOverride = Nullable 8, MaxPositionEmbeddings = 64,
                                RopeTheta = 100.0, TieWordEmbeddings = true, InitializerRange = 0.2)
            use m = seededModel c 44L
            let dir = tempDir "yarn"
            HfCheckpoint.Save(m, dir)
            let settings = (ConfigBinder.Bind<RunConfig>(null, [ "model.yarn_factor=3"; "model.yarn_original_max_positions=16" ])).Model
            use extended = PolicyFactory.Load(dir, settings)
            let rs = nonNull extended.Config.RopeScaling
            Expect.equal (rs.Kind, rs.Factor, rs.OriginalMaxPositionEmbeddings) ("yarn", Nullable 3.0, Nullable 16) "rope_scaling set"
            // d = 8, θ = 100, L = 16: the ramp runs over pairs max(floor(8 ln(16/(64π)) / (2 ln 100)), 0) = 0 to
            // ceil(8 ln(16/(2π)) / (2 ln 100)) = 1; pair 0 keeps its frequency, pairs ≥ 1 are divided by 3.
            let plain = plainInvFreq 100.0 8
            let inv = plain |> Array.mapi (fun i f -> if i = 0 then f else f / 3.0)
            let struct (actual, scale) = RotaryEmbedding.Frequencies extended.Config
            TestTensors.closeArrays Accuracy.veryHigh actual inv "inverse frequencies"
            Expect.floatClose Accuracy.veryHigh scale (0.1 * log 3.0 + 1.0) "attention scaling 0.1 ln s + 1"
            let ids = [| 1; 2; 3; 4; 5; 6; 7; 8; 9; 10; 30; 31; 32; 33; 34; 35; 36; 20; 21; 22 |]
            use logits = extended.forward(CausalLMInput(longTensor (ids |> Array.map int64) [| 1L; int64 ids.Length |]))
            let expected = referenceLogits extended inv (0.1 * log 3.0 + 1.0) ids |> Array.concat |> Array.map float32
            Expect.isLessThan (maxAbsDiff (toArray logits) expected) 1e-4 "logits equal the float64 reference"
            use unchanged = PolicyFactory.Load(dir, ConfigBinder.Bind<RunConfig>(null, []).Model)
            Expect.isNull (box unchanged.Config.RopeScaling) "no override: the checkpoint's own (none)"

            let r = Cli.run [ "eval"; "--model"; dir; "model.yarn_factor=0.5" ]
            Expect.equal r.ExitCode 2 "a factor below 1 is refused before any work"
            Expect.stringContains r.Stderr "model.yarn_factor" "names the key"
        }
        test "two RL steps of a real-shape model (2 layers, vocabulary 151,936) on verl math parquet through Qwen3's tokenizer.json and chat template" {
            let work = tempDir "real-rl"
            let model = Path.Combine(work, "model")
            // Qwen3's own tokenizer.json and tokenizer_config.json (the committed fixture), so the prompts, the SFT
            // targets and the sampled answers go through the real vocabulary's merges and special tokens.
            let tokenizer = Qwen3ReferenceTests.tokenizerDir.Value
            let r = Cli.run [ "model"; "init"; "--config"; cutConfigFile 2; "--out"; model; "--tokenizer"; tokenizer ]
            Expect.equal r.ExitCode 0 $"model init ({r.Stderr})"
            let data = Path.Combine(work, "math.parquet")
            VerlParquet.Save(data, mathRows ())
            // A few SFT steps first: a random 151,936-token policy never writes <think>, so every group would score the
            // same and the zero-advantage filter would leave nothing to update.
            let r =
                Cli.runWithin (TimeSpan.FromMinutes 10.0)
                    [ "train"; $"output_dir={work}/runs"; $"model.path={model}"; "data.task=files"; $"data.train_files={data}"
                      $"data.val_files={data}"; $"data.sft_files={data}"; "data.prompt_format=qwen3-chat"; "threads=1"
                      "sft.steps=4"; "sft.batch_size=4"; "sft.lr=3e-3"; "sft.min_lr=3e-3"; "sft.warmup_steps=0"; "sft.val_examples=0"
                      "trainer.steps=2"; "trainer.prompts_per_step=4"; "rollout.n=8"; "rollout.max_new_tokens=16"
                      "actor.mini_batches=2"; "actor.lr=1e-4"; "actor.activation_checkpointing=true"
                      "eval.k=1"; "eval.greedy=false"; "eval.max_new_tokens=8" ]
            Expect.equal r.ExitCode 0 $"train exit code ({r.Stderr})"
            let runDir = Directory.GetDirectories(Path.Combine(work, "runs")) |> Array.exactlyOne
            let rows = File.ReadAllLines(Path.Combine(runDir, "metrics.jsonl")) |> Array.map (fun l -> JsonNode.Parse l |> nonNull)
            let rl = rows |> Array.filter (fun row -> (nonNull row.["phase"]).GetValue<string>() = "rl")
            Expect.equal rl.Length 2 "two RL steps logged"
            let value (row: JsonNode) (key: string) = match row.[key] with | null -> nan | v -> v.GetValue<float>()
            let kept = rl |> Array.sumBy (fun row -> value row "rl/kept_groups")
            Expect.isGreaterThan kept 0.0 "some groups had reward spread and were trained on"
            for row in rl do
                if value row "rl/kept_groups" > 0.0 then
                    Expect.isTrue (Double.IsFinite(value row "actor/grad_norm") && value row "actor/grad_norm" > 0.0) "a finite, non-zero gradient"
            // The RL policy is a real-shape HF directory again: it loads and differs from the initial one.
            let final = Directory.GetDirectories(Path.Combine(runDir, "checkpoints"), "rl-step-*") |> Array.max
            use trained = HfCheckpoint.Load(Path.Combine(final, "model"))
            use initial = HfCheckpoint.Load model
            Expect.equal trained.Config.VocabSize 151936 "real vocabulary"
            let changed = Seq.zip (trained.parameters()) (initial.parameters()) |> Seq.exists (fun (a, b) -> not (a.eq(b).all().item<bool>()))
            Expect.isTrue changed "training changed the weights"
        }
        test "a bf16 generation copy keeps fp32 rotary frequencies and tracks the fp32 logits at long positions; it samples with a bf16 cache" {
            let c = Qwen3Config(VocabSize = 97, HiddenSize = 128, IntermediateSize = 256, NumHiddenLayers = 2, NumAttentionHeads = 2,
                                NumKeyValueHeads = 1, HeadDimOverride = Nullable 64, MaxPositionEmbeddings = 40960, RopeTheta = 1e6,
                                TieWordEmbeddings = true, InitializerRange = 0.02)
            use m = seededModel c 45L
            use copy = m.CopyAs(torch.bfloat16)
            Expect.equal copy.Dtype torch.bfloat16 "bf16 weights"
            // Positions 30,000 on: bf16 frequencies (8 mantissa bits) would turn the slowest-but-one pairs by whole radians.
            use ids = torch.randint(0L, 97L, [| 1L; 24L |], generator = new torch.Generator(9UL))
            use positions = (torch.arange(24L) + 30000L).unsqueeze(0)
            use _ = torch.no_grad()
            use full = m.forward(CausalLMInput(ids, PositionIds = positions))
            use half = copy.forward(CausalLMInput(ids, PositionIds = positions))
            let scale = toArray full |> Array.map (fun x -> abs (float x)) |> Array.max
            Expect.isLessThan (maxAbsDiff (toArray half) (toArray full) / scale) 0.03 "bf16 logits within 3% of the fp32 scale"
            let out = Sampler(copy).Generate([| [| 1; 2; 3 |]; [| 4; 5 |] |], SamplingOptions(Temperature = 1.0, MaxNewTokens = 12, Seed = 3L))
            Expect.isTrue (out.Tokens |> Array.forall (fun t -> t.Length = 12 && t |> Array.forall (fun x -> x >= 0 && x < 97))) "12 valid tokens per row"
            Expect.isTrue (out.LogProbs |> Array.concat |> Array.forall (fun lp -> Single.IsFinite lp && lp <= 0.0f)) "log-probs"
        }

        test "model.device is checked before any work: cuda needs a CUDA build and a GPU, other names are refused" {
            let deviceError (value: string) =
                try PolicyFactory.Describe((ConfigBinder.Bind<RunConfig>(null, [ $"model.device={value}" ])).Model, 23) |> ignore; ""
                with :? ConfigException as e -> e.Message
            Expect.equal (deviceError "cpu") "" "cpu"
            if not (torch.cuda.is_available()) then
                Expect.stringContains (deviceError "cuda") "no CUDA device available" "cuda on this CPU-only build"
            Expect.stringContains (deviceError "tpu") "model.device" "an unknown device names the key"
        }

        test "rollout.dtype=bf16 and eval.dtype=bf16: RL rollouts and evaluation sample from a bf16 copy; the update stays fp32" {
            let overrides = [ "model.layers=1"; "model.hidden=32"; "model.heads=2"; "model.kv_heads=1"; "trainer.prompts_per_step=4"; "rollout.n=4"
                              "rollout.max_new_tokens=16"; "rollout.dtype=bf16"; "eval.dtype=bf16"; "eval.k=2"; "eval.max_new_tokens=16"
                              "data.eval_problems=6"; "actor.mini_batches=1"; "algorithm.filter_zero_adv_groups=false"; "actor.entropy_coeff=0.01" ]
            let config = ConfigBinder.Bind<RunConfig>(null, overrides)
            let tokenizer = CharTokenizer.Arithmetic()
            let task = ArithmeticTrainingTask(config.Seed, config.Data)
            use model = PolicyFactory.Create(config.Model, tokenizer.VocabSize, config.Seed)
            let rewards = Klear.Host.Rewards.RewardRegistry().Register(Klear.Host.Rewards.MathReward(config.Reward), Klear.Host.Rewards.MathReward.DataSources)
            let trainer = RlTrainer(model, null, tokenizer, task, rewards, config)
            use optimizer = trainer.CreateOptimizer()
            let m = trainer.Step(optimizer, 0)
            Expect.equal model.Dtype torch.float32 "the policy stays fp32"
            Expect.isTrue (Double.IsFinite m.["actor/grad_norm"] && m.["actor/grad_norm"] > 0.0) "an update from bf16 rollouts"
            let struct (summary, _) = Klear.Host.Evaluation.Evaluator(model, tokenizer, rewards, config.Eval).Run(task.EvalSet, (fun r -> task.RenderPrompt r), 0L)
            Expect.isGreaterThan summary.MeanResponseTokens 0.0 "evaluation sampled"
            let bad = try ConfigBinder.Bind<RunConfig>(null, [ "rollout.dtype=fp16" ]) |> fun c -> RlComponents.Create c |> ignore; "" with :? ConfigException as e -> e.Message
            Expect.stringContains bad "rollout.dtype" "a dtype it cannot use is named"
        }
        test "model memory: each phase in its own process reports its peak, time and the 16-bytes-per-parameter floor" {
            use m = seededModel (gqaConfig ()) 47L
            let dir = tempDir "memory"
            HfCheckpoint.Save(m, dir)
            let out = Path.Combine(dir, "memory.json")
            let r = Cli.run [ "model"; "memory"; "--model"; dir; "--batch"; "2"; "--prompt-tokens"; "4"; "--response-tokens"; "8"; "--threads"; "1"
                              "--phases"; "load,generate-bf16,update-checkpointed"; "--cap-gib"; "4"; "--out"; out ]
            Expect.equal r.ExitCode 0 $"exit code ({r.Stderr})"
            let report = JsonNode.Parse(File.ReadAllText out) |> nonNull
            let phases = (nonNull report.["phases"]).AsArray() |> Seq.map nonNull |> List.ofSeq
            Expect.equal (phases |> List.map (fun p -> (nonNull p.["phase"]).GetValue<string>())) [ "load"; "generate-bf16"; "update-checkpointed" ] "phases in order"
            for p in phases do
                Expect.isNull p.["failed"] "no phase failed"
                let peak, start = (nonNull p.["peak_bytes"]).GetValue<int64>(), (nonNull p.["start_bytes"]).GetValue<int64>()
                Expect.isTrue (peak >= start && start > 100_000_000L) "a real RSS (the runtime and libtorch alone exceed 100 MB), peak >= start"
            Expect.equal ((nonNull phases.[1].["tokens"]).GetValue<int>()) 16 "2 rows × 8 generated tokens, no stop token"
            let floor = nonNull report.["floor"]
            let n = m.parameters() |> Seq.sumBy (fun p -> p.numel())
            Expect.equal ((nonNull floor.["parameters"]).GetValue<int64>()) n "parameter count from config.json = the model's (GQA, untied head)"
            Expect.equal ((nonNull floor.["floor_bytes"]).GetValue<int64>()) (16L * n) "weights + gradients + two AdamW moments, fp32"
            Expect.stringContains r.Stdout "on a GPU" "names what would live on a GPU"
            // A phase that does not fit its cap is killed alone and reported, not left to press on the machine.
            let r = Cli.run [ "model"; "memory"; "--model"; dir; "--phases"; "load"; "--cap-gib"; "0.05"; "--out"; out ]
            Expect.equal r.ExitCode 0 $"the report is still written ({r.Stderr})"
            let failed = (JsonNode.Parse(File.ReadAllText out) |> nonNull).["phases"] |> nonNull |> fun a -> (nonNull (a.AsArray().[0])).["failed"]
            Expect.stringContains (string (nonNull failed)) "cap" "killed at the cap"
        }
    ]
