/// The RL trainer on a tiny model: filter decisions, advantages, loss and metrics against hand computation; a
/// non-finite gradient is skipped; a killed run resumes to exactly the metrics of an uninterrupted one.
module Klear.Tests.TrainerTests

open System
open System.IO
open System.Text.Json.Nodes
open Expecto
open TorchSharp
open Klear.Host.Configuration
open Klear.Host.Cli
open Klear.Host.Rewards
open Klear.Host.Tokenization
open Klear.Host.Rollout
open Klear.Host.Training

let private tinyOverrides =
    [ "model.layers=1"; "model.hidden=32"; "model.heads=2"; "model.kv_heads=1"; "trainer.prompts_per_step=6"; "rollout.n=4"
      "rollout.max_new_tokens=24"; "data.eval_problems=8"; "eval.k=2"; "eval.max_new_tokens=24" ]

let private setup (extra: string list) =
    let config = ConfigBinder.Bind<RunConfig>(null, tinyOverrides @ extra)
    let tokenizer = CharTokenizer.Arithmetic()
    let task = ArithmeticTrainingTask(config.Seed, config.Data)
    let model = PolicyFactory.Create(config.Model, tokenizer.VocabSize, config.Seed)
    let rewards = RewardRegistry().Register(MathReward(config.Reward), MathReward.DataSources)
    config, RlTrainer(model, null, tokenizer, task, rewards, config), model

let private std (xs: float[]) =
    let m = Array.average xs
    sqrt ((xs |> Array.sumBy (fun x -> (x - m) ** 2.0)) / float (xs.Length - 1))

let handChecked =
    test "3 RL steps: kept groups, GRPO advantages, on-policy GPPO loss and metrics match hand computation" {
        // A random tiny policy mostly fails the think gate in different ways, so groups have reward spread.
        let config, trainer, model = setup [ "actor.mini_batches=1"; "actor.sft_loss_coef=0"; "rollout.temperature=1.0" ]
        use optimizer = trainer.CreateOptimizer()
        let n = config.Rollout.N
        for step in 0..2 do
            let ro = trainer.Collect step
            // Filter: a group is kept iff its scores are not all equal, and at most prompts_per_step groups.
            let groups = ro.AllScores |> Array.chunkBySize n
            let informative = groups |> Array.filter (fun g -> Array.distinct g |> Array.length > 1)
            Expect.equal ro.KeptGroups (min informative.Length config.Trainer.PromptsPerStep) "kept groups"
            Expect.sequenceEqual ro.Scores (informative |> Array.truncate config.Trainer.PromptsPerStep |> Array.concat) "kept rollouts in order"
            // GRPO advantages by hand.
            let expected = ro.Scores |> Array.chunkBySize n |> Array.collect (fun g -> let m, s = Array.average g, std g in g |> Array.map (fun r -> (r - m) / (s + 1e-6)))
            TestTensors.closeArrays { absolute = 1e-9; relative = 1e-9 } ro.Advantages expected "advantages"
            if ro.KeptGroups > 0 then
                let m = trainer.Update(optimizer, step, ro)
                // One mini-batch, on-policy: r = 1, nothing clipped, so the token-mean loss is -Σ A·|y| / Σ |y|.
                let lengths = ro.Responses |> Array.map (fun r -> float r.Length)
                let pgLoss = -(Array.map2 (*) ro.Advantages lengths |> Array.sum) / Array.sum lengths
                Expect.floatClose { absolute = 1e-4; relative = 1e-4 } m["actor/pg_loss"] pgLoss "pg_loss"
                Expect.floatClose { absolute = 1e-6; relative = 0.0 } m["actor/pg_clipfrac"] 0.0 "no clipping on-policy"
                Expect.floatClose { absolute = 1e-5; relative = 0.0 } m["actor/ppo_kl"] 0.0 "no drift on-policy"
                Expect.isTrue (Double.IsFinite m["actor/grad_norm"] && m["actor/grad_norm"] > 0.0) "a gradient flowed"
        Expect.equal trainer.SkippedSteps 0 "nothing skipped"
        ignore model
    }

let entropyAndKl =
    test "entropy bonus and KL term: on-policy, entropy_loss = -mean entropy; kl_loss = k3 token-mean against the reference" {
        let config, trainer, _ = setup [ "actor.mini_batches=1"; "actor.entropy_coeff=0.01" ]
        use optimizer = trainer.CreateOptimizer()
        let ro = trainer.Collect 0
        let m = trainer.Update(optimizer, 0, ro)
        Expect.floatClose { absolute = 1e-4; relative = 1e-4 } m["actor/entropy_loss"] (-m["actor/entropy"]) "entropy term"
        Expect.isTrue (m["actor/entropy"] > 0.0) "a random policy has entropy"
        let config2 = ConfigBinder.Bind<RunConfig>(null, tinyOverrides @ [ "actor.mini_batches=1"; "actor.kl_loss_coef=0.1" ])
        let model = PolicyFactory.Create(config2.Model, 23, config2.Seed)
        let reference = PolicyFactory.Create(config2.Model, 23, 99L)
        let rewards = RewardRegistry().Register(MathReward(config2.Reward), MathReward.DataSources)
        let trainer2 = RlTrainer(model, reference, CharTokenizer.Arithmetic(), ArithmeticTrainingTask(0L, config2.Data), rewards, config2)
        use optimizer2 = trainer2.CreateOptimizer()
        let ro2 = trainer2.Collect 0
        // k3 token-mean over the response tokens, from both models' log-probs before the update.
        let expected =
            use _scope = torch.NewDisposeScope()
            use _noGrad = torch.no_grad ()
            let batch = SequenceBatch.Create(ro2.Prompts, ro2.Responses, 0)
            let lp, _ = (Klear.Host.Rollout.SequenceScorer.Score(model, batch.InputIds)).ToTuple()
            let rlp, _ = (Klear.Host.Rollout.SequenceScorer.Score(reference, batch.InputIds)).ToTuple()
            let mask = TestTensors.values batch.ResponseMask
            let d = Array.map2 (fun a b -> b - a) (TestTensors.values lp) (TestTensors.values rlp)
            let k3 = d |> Array.map (fun x -> exp x - x - 1.0)
            (Array.map2 (*) k3 mask |> Array.sum) / Array.sum mask
        let m2 = trainer2.Update(optimizer2, 0, ro2)
        Expect.isTrue (expected > 1e-3) "two different random policies disagree"
        Expect.floatClose { absolute = 1e-5; relative = 1e-4 } m2["actor/kl_loss"] expected "k3 against the reference"
        ignore config
    }

let liveTensors =
    test "RL and SFT steps leave no live tensors behind (flat count over steps)" {
        let config, trainer, model = setup []
        use optimizer = trainer.CreateOptimizer()
        trainer.Step(optimizer, 0) |> ignore           // the first step creates the optimizer state
        let before = DisposeScopeManager.Statistics.ThreadTotalLiveCount
        for step in 1..3 do trainer.Step(optimizer, step) |> ignore
        Expect.equal DisposeScopeManager.Statistics.ThreadTotalLiveCount before "RL: flat over 3 steps"
        let sft = SftTrainer(model, CharTokenizer.Arithmetic(), ArithmeticTrainingTask(0L, config.Data), config.Sft)
        use sftOptimizer = sft.CreateOptimizer()
        sft.Step(sftOptimizer, 0) |> ignore
        let before = DisposeScopeManager.Statistics.ThreadTotalLiveCount
        for step in 1..3 do sft.Step(sftOptimizer, step) |> ignore
        Expect.equal DisposeScopeManager.Statistics.ThreadTotalLiveCount before "SFT: flat over 3 steps"
    }

let private poison (p: torch.Tensor) =
    use _noGrad = torch.no_grad ()
    p.fill_ Double.NaN |> ignore

let nonFinite =
    test "a non-finite gradient norm skips the optimizer step and is counted" {
        let _, trainer, model = setup [ "actor.mini_batches=2" ]
        use optimizer = trainer.CreateOptimizer()
        let ro = trainer.Collect 0
        Expect.isGreaterThan ro.KeptGroups 0 "some informative groups"
        let named = model.named_parameters() |> Seq.map (fun struct (n, p) -> n, p) |> List.ofSeq
        let _, poisoned = named |> List.find (fun (n, _) -> n = "model.norm.weight")
        let _, watched = named |> List.find (fun (n, _) -> n.EndsWith "mlp.up_proj.weight")
        let before = watched.detach().clone()
        poison poisoned
        let m = trainer.Update(optimizer, 0, ro)
        Expect.equal trainer.SkippedSteps 2 "both mini-batch steps skipped"
        Expect.isTrue (Double.IsNaN m["actor/grad_norm"]) "no finite norm to report"
        Expect.isTrue (watched.eq(before).all().item<bool> ()) "parameters untouched"
    }

/// Stands in for AdamW: records the gradient of every optimizer step and, at the first step only, moves the weights by
/// a fixed seeded perturbation (whatever the gradient). The trainer's second mini-batch then sees ratios far from 1.
type private PerturbingOptimizer(parameters: torch.Tensor list, scale: float) =
    inherit TorchSharp.Modules.OptimizerHelper()
    let gradients = ResizeArray<float[]>()
    member _.Gradients = gradients
    override _.step(_closure) =
        use _noGrad = torch.no_grad ()
        gradients.Add(parameters |> Array.ofList |> Array.collect (fun p -> TestTensors.values p.grad))
        if gradients.Count = 1 then
            let gen = new torch.Generator(17UL)
            for p in parameters do p.add_(torch.randn(p.shape, generator = gen) * scale) |> ignore
        null
    override _.zero_grad() =
        for p in parameters do
            if not (isNull p.grad) then p.grad.zero_() |> ignore

/// Hand-written per-token gradient weight F, d(loss)/d(logp) = -A·F (objectives.md; eps_low 0.2, eps_high 0.2 for
/// ppo and 0.28 otherwise, dual clip 10): inside the trust region F = r; clipped, PPO and clip-higher give 0 and GPPO
/// the bound; for A<0 past the dual clip every objective gives 0.
let private handWeight (name: string) (a: float) (r: float) =
    let high = if name = "ppo" then 1.2 else 1.28
    let keeps = name = "gppo"
    if a > 0.0 then (if r > high then (if keeps then high else 0.0) else r)
    elif r < 0.8 then (if keeps then 0.8 else 0.0)
    elif r > 10.0 then 0.0
    else r

let private norm (xs: float[]) = sqrt (Array.sumBy (fun x -> x * x) xs)
let private distance (a: float[]) (b: float[]) = norm (Array.map2 (-) a b)

let offPolicy =
    test "off-policy mini-batch: ppo, clip-higher and gppo take different updates, each the hand-computed per-token weights" {
        let tokenizer = CharTokenizer.Arithmetic()
        let special = SpecialTokens.From tokenizer
        let prompt = special.EncodePrompt(tokenizer, "12+34-5=")
        let response = [| for i in 0..59 -> (i * 7 + 3) % tokenizer.VocabSize |] |> Array.filter (fun t -> t <> special.Pad)
        /// Two copies of one rollout, so whichever the seeded shuffle puts second, the second mini-batch is that rollout.
        let step (name: string) (adv: float) =
            let config = ConfigBinder.Bind<RunConfig>(null, tinyOverrides @ [ $"actor.policy_loss={name}"; "actor.mini_batches=2"; "actor.sft_loss_coef=0"; "actor.grad_clip=1e9" ])
            let model = PolicyFactory.Create(config.Model, tokenizer.VocabSize, config.Seed)
            let rewards = RewardRegistry().Register(MathReward(config.Reward), MathReward.DataSources)
            let trainer = RlTrainer(model, null, tokenizer, ArithmeticTrainingTask(config.Seed, config.Data), rewards, config)
            let ro =
                RlTrainer.Rollouts([| prompt; prompt |], [| response; response |], [| 0.0; 0.0 |], [| false; false |], [| true; true |], 1, 1, [| adv; adv |],
                                   AllScores = [| 0.0; 0.0 |], AllCorrect = [| false; false |], AllLengths = [| response.Length; response.Length |], AllFinished = [| true; true |])
            let batch = SequenceBatch.Create(ro.Prompts, ro.Responses, special.Pad)
            let row0 (t: torch.Tensor) = TestTensors.values (t.select(0L, 0L))
            let oldLogp = (use _noGrad = torch.no_grad () in row0 (fst ((SequenceScorer.Score(model, batch.InputIds)).ToTuple())))
            let mask = row0 batch.ResponseMask
            let parameters = model.parameters () |> Seq.map (fun p -> p :> torch.Tensor) |> List.ofSeq
            use optimizer = new PerturbingOptimizer(parameters, 0.05)
            trainer.Update(optimizer, 0, ro) |> ignore
            Expect.equal optimizer.Gradients.Count 2 "two mini-batch steps"
            // The weights are now the perturbed ones the second mini-batch was scored with: ratios by hand.
            let logp, _ = (SequenceScorer.Score(model, batch.InputIds)).ToTuple()
            let ratios = Array.map2 (fun n o -> exp (n - o)) (row0 logp) oldLogp
            let tokens = Array.sum mask
            let weights = Array.mapi (fun t r -> mask[t] * handWeight name adv r) ratios
            // Token-mean over the one rollout: loss gradient Σ_t -A·F_t·∇logp_t / |y|.
            let f = torch.tensor(weights, dtype = logp.dtype)
            let surrogate = (logp.select(0L, 0L) * f).sum() * torch.tensor(-adv / tokens, dtype = logp.dtype)
            for p in parameters do
                if not (isNull p.grad) then p.grad.zero_() |> ignore
            surrogate.backward()
            let hand = parameters |> Array.ofList |> Array.collect (fun p -> TestTensors.values p.grad)
            let live = ratios |> Array.indexed |> Array.filter (fun (t, _) -> mask[t] > 0.0) |> Array.map snd
            optimizer.Gradients[0], optimizer.Gradients[1], hand, live
        let regions (rs: float[]) = [ for lo, hi in [ 0.0, 0.8; 0.8, 1.2; 1.2, 1.28; 1.28, 10.0 ] -> rs |> Array.filter (fun r -> r > lo && r <= hi) |> Array.length ]
        for adv in [ 1.0; -1.0 ] do
            let results = [ for name in [ "ppo"; "clip-higher"; "gppo" ] -> name, step name adv ]
            let _, (_, _, _, ratios) = results.Head
            // Every region that separates the objectives holds tokens, and none sits on a bound (float vs double).
            Expect.all (regions ratios) (fun n -> n > 0) $"A={adv}: tokens in every region {regions ratios}"
            for b in [ 0.8; 1.2; 1.28 ] do Expect.isFalse (ratios |> Array.exists (fun r -> abs (r - b) < 1e-4)) $"no ratio at {b}"
            for name, (first, second, hand, _) in results do
                Expect.isLessThan (distance second hand) (1e-4 * norm hand) $"{name}, A={adv}: the trainer's off-policy gradient is the hand-computed one"
                let _, (ppoFirst, _, _, _) = results.Head
                Expect.isLessThan (distance first ppoFirst) (1e-6 * norm ppoFirst) $"{name}, A={adv}: on-policy (r = 1) every objective agrees"
            let grad name = results |> List.find (fst >> (=) name) |> snd |> fun (_, g, _, _) -> g
            let differ a b = Expect.isGreaterThan (distance (grad a) (grad b)) (1e-3 * norm (grad a)) $"A={adv}: {a} and {b} differ"
            differ "clip-higher" "gppo"
            if adv > 0.0 then differ "ppo" "clip-higher"      // for A<0 their low bounds are the same 0.8
    }

/// actor.micro_max_tokens partitions a mini-batch by length and cuts each micro-batch to its longest row; the
/// normalisers stay the mini-batch's, so every mini-batch gradient must equal the one of a single padded micro-batch.
let tokenBudget =
    test "token-budget micro-batches (sorted by length, padding cut) give the one-micro-batch gradients, every aggregation mode" {
        for agg in [ "token-mean"; "seq-mean-token-mean"; "seq-mean-token-sum"; "seq-mean-token-sum-norm"; "token-sum" ] do
            let gradients (extra: string list) (ro: RlTrainer.Rollouts option) =
                let _, trainer, model = setup ([ "actor.mini_batches=2"; $"actor.loss_agg_mode={agg}"; "rollout.temperature=1.0"; "actor.entropy_coeff=0.001" ] @ extra)
                let ro = ro |> Option.defaultWith (fun () -> trainer.Collect 0)
                let parameters = model.parameters () |> Seq.map (fun p -> p :> torch.Tensor) |> List.ofSeq
                use optimizer = new PerturbingOptimizer(parameters, 0.05)
                trainer.Update(optimizer, 0, ro) |> ignore
                ro, List.ofSeq optimizer.Gradients
            let ro, whole = gradients [] None
            let lengths = Array.map2 (fun (p: int[]) (r: int[]) -> p.Length + r.Length) ro.Prompts ro.Responses
            Expect.isGreaterThan (Array.max lengths) (Array.min lengths) "rows of different lengths, so cutting padding matters"
            // A budget of about three of the longest rows: several micro-batches per mini-batch, most shorter than the step.
            let _, split = gradients [ $"actor.micro_max_tokens={3 * Array.max lengths}" ] (Some ro)
            Expect.equal split.Length whole.Length $"{agg}: the same optimizer steps"
            for a, b in List.zip whole split do
                Expect.isLessThan (distance a b) (1e-5 * norm a) $"{agg}: the mini-batch gradient is the one-micro-batch one"
    }

let corrections =
    test "rollout correction, overlong penalty and mask_truncated in real steps: sampler log-probs line up, metrics by hand" {
        // top_p = 1: the sampler's distribution is the trainer's, so the mismatch is rounding only (a misaligned
        // sampler log-prob would show as a large KL). top_p = 0.8: π_old/π_sampler = nucleus mass ≤ 1, so k1 > 0.
        for topP in [ 1.0; 0.8 ] do
            let config, trainer, _ =
                setup [ $"rollout.top_p={topP}"; "algorithm.rollout_is=token"; "algorithm.rollout_rs=sequence"; "algorithm.rollout_rs_threshold_lower=0"
                        "algorithm.rollout_rs_threshold=1e9"; "reward.overlong_buffer_len=8"; "reward.overlong_penalty_factor=0.5"; "actor.mini_batches=1" ]
            use optimizer = trainer.CreateOptimizer()
            let m = trainer.Step(optimizer, 0)
            let hand = m["response_length/mean"]
            ignore hand
            Expect.isTrue (m.ContainsKey "rollout_corr/kl" && m.ContainsKey "rollout_corr/k3_kl" && m.ContainsKey "rollout_corr/tis_truncated_frac") "metrics logged"
            if topP = 1.0 then
                Expect.isLessThan (abs m["rollout_corr/kl"]) 1e-4 "same distribution: k1 ≈ 0"
                Expect.isLessThan m["rollout_corr/k3_kl"] 1e-6 "k3 ≈ 0"
            else
                Expect.isGreaterThan m["rollout_corr/kl"] 1e-3 "top-p sampler: π_sampler > π_old on every kept token"
                Expect.isLessThan m["rollout_corr/is_weight_mean"] 1.0 "ρ = mass ≤ 1"
                Expect.floatClose { absolute = 1e-6; relative = 0.0 } m["rollout_corr/tis_truncated_frac"] 0.0 "nothing above C = 2"
            Expect.floatClose { absolute = 1e-6; relative = 0.0 } m["rollout_corr/mis_masked_frac"] 0.0 "bounds [0, 1e9] keep all"
            ignore config
        // Overlong penalty by hand from the drawn lengths.
        let _, trainer, _ = setup [ "reward.overlong_buffer_len=8"; "reward.overlong_penalty_factor=0.5" ]
        let ro = trainer.Collect 0
        let penalty (l: int) = min 0.0 (-(float (l - (24 - 8))) / 8.0 * 0.5)
        let _, plain, _ = setup []
        let ro0 = plain.Collect 0
        Expect.sequenceEqual ro.AllLengths ro0.AllLengths "the penalty does not change sampling"
        TestTensors.closeArrays TestTensors.tight ro.AllScores (Array.map2 (fun s l -> s + penalty l) ro0.AllScores ro0.AllLengths) "score = rule reward + penalty"
        // mask_truncated: of two rollouts (A = +1 finished, A = -1 truncated, different lengths), on-policy (r = 1, GPPO
        // loss -A per token) the token-mean loss is -1 with the truncated one dropped from numerator and denominator,
        // and (-1·L_f + 1·L_t)/(L_f + L_t) without.
        let tokenizer = CharTokenizer.Arithmetic()
        let special = SpecialTokens.From tokenizer
        let prompt = special.EncodePrompt(tokenizer, "12+34-5=")
        let finished = [| 5; 6; 7; special.Eos |]
        let truncated = [| 8; 9; 10; 11; 12; 13; 14 |]
        let pgLoss (mask: bool) =
            let _, t, _ = setup [ $"actor.mask_truncated={mask}"; "actor.sft_loss_coef=0"; "actor.mini_batches=1" ]
            let ro =
                RlTrainer.Rollouts([| prompt; prompt |], [| finished; truncated |], [| 1.0; -1.0 |], [| true; false |], [| true; false |], 1, 1, [| 1.0; -1.0 |],
                                   AllScores = [| 1.0; -1.0 |], AllCorrect = [| true; false |], AllLengths = [| 4; 7 |], AllFinished = [| true; false |])
            use opt = t.CreateOptimizer()
            (t.Update(opt, 0, ro))["actor/pg_loss"]
        let acc = { absolute = 1e-5; relative = 1e-5 }
        Expect.floatClose acc (pgLoss true) -1.0 "truncated rollout left numerator and denominator"
        Expect.floatClose acc (pgLoss false) ((-1.0 * 4.0 + 1.0 * 7.0) / 11.0) "without mask_truncated both count"
    }

let private klear (args: string list) = Cli.run args

let private rlRows (runDir: string) =
    File.ReadAllLines(Path.Combine(runDir, "metrics.jsonl"))
    |> Array.map (fun l -> JsonNode.Parse(l).AsObject())
    |> Array.filter (fun o -> (o["phase"].GetValue<string>()).StartsWith "rl" || (o["phase"].GetValue<string>()).StartsWith "eval")
    |> Array.map (fun o ->
        // Timings differ between runs; everything else must not.
        o |> Seq.filter (fun kv -> not (kv.Key.StartsWith "perf/")) |> Seq.map (fun kv -> kv.Key, kv.Value.ToJsonString()) |> List.ofSeq)

let resume =
    test "a run killed after a checkpoint and resumed logs exactly the metrics of an uninterrupted run" {
        let root = Path.Combine(Path.GetTempPath(), "klear-resume-" + Guid.NewGuid().ToString("N"))
        let args = [ "train"; "--output-dir"; root; "sft.steps=6"; "sft.batch_size=8"; "trainer.steps=6"; "trainer.save_every=1"; "trainer.eval_every=3" ] @ tinyOverrides
        let whole = klear args
        Expect.equal whole.ExitCode 0 whole.Stderr
        let wholeDir = Directory.GetDirectories(root) |> Array.exactlyOne
        // Second run: kill it once its RL checkpoint at step 2 exists, then resume.
        let root2 = root + "-killed"
        let psi = Diagnostics.ProcessStartInfo("dotnet", RedirectStandardOutput = true, RedirectStandardError = true)
        psi.ArgumentList.Add Cli.klearDll
        for a in args do psi.ArgumentList.Add(if a = root then root2 else a)
        use p = Diagnostics.Process.Start psi
        let deadline = DateTime.UtcNow.AddMinutes 3.0
        let latest () =
            (if Directory.Exists root2 then Directory.GetDirectories root2 else [||]) |> Array.tryHead
            |> Option.map (fun d -> Path.Combine(d, "checkpoints", "latest"))
            |> Option.filter File.Exists
            |> Option.map File.ReadAllText
        while latest () <> Some "rl-step-000003" && not p.HasExited && DateTime.UtcNow < deadline do
            Threading.Thread.Sleep 20
        Expect.isFalse p.HasExited "killed before it finished"
        p.Kill true
        p.WaitForExit()
        let killedDir = Directory.GetDirectories(root2) |> Array.exactlyOne
        Expect.isFalse (File.Exists(Path.Combine(killedDir, "report.json"))) "the killed run did not finish"
        let resumed = klear [ "train"; "--resume"; killedDir ]
        Expect.equal resumed.ExitCode 0 resumed.Stderr
        Expect.stringContains resumed.Stdout "resuming from" "resumed"
        let a, b = rlRows wholeDir, rlRows killedDir
        Expect.equal b.Length a.Length "same rows"
        for (x, y) in Array.zip a b do Expect.equal y x "same metrics"
        let report d = JsonNode.Parse(File.ReadAllText(Path.Combine(d, "report.json")))
        for key in [ "sft_accuracy"; "rl_accuracy"; "sft_greedy"; "rl_greedy" ] do
            let value (d: string) = let r = report d in r[key].ToJsonString()
            Expect.equal (value killedDir) (value wholeDir) key
        for d in [ root; root2 ] do Directory.Delete(d, true)
    }

let filesTask =
    test "the built-in task exported as verl JSONL and as parquet trains through data.task=files, identically" {
        let root = Path.Combine(Path.GetTempPath(), "klear-files-" + Guid.NewGuid().ToString("N"))
        let trainOn (format: string) =
            let data = Path.Combine(root, "data-" + format)
            let export = klear [ "data"; "export"; "--out"; data; "--format"; format; "--train"; "50"; "--sft"; "64"; "data.eval_problems=8" ]
            Expect.equal export.ExitCode 0 export.Stderr
            Expect.isTrue (File.Exists(Path.Combine(data, $"sft.{format}"))) $"sft.{format} written"
            let runs = Path.Combine(root, "runs-" + format)
            let run =
                klear ([ "train"; "--output-dir"; runs; "data.task=files"; $"data.train_files={data}/train.{format}"
                         $"data.val_files={data}/val.{format}"; $"data.sft_files={data}/sft.{format}"; "sft.steps=2"; "sft.batch_size=8"; "trainer.steps=2" ]
                       @ tinyOverrides)
            Expect.equal run.ExitCode 0 run.Stderr
            let runDir = Directory.GetDirectories runs |> Array.exactlyOne
            let report = JsonNode.Parse(File.ReadAllText(Path.Combine(runDir, "report.json")))
            Expect.isTrue (report["rl_accuracy"] <> null) "report written"
            // What the numbers are reproducible on, read independently from the kernel's CPU flags.
            let flags = File.ReadLines "/proc/cpuinfo" |> Seq.find (fun l -> l.StartsWith "flags") |> fun l -> l.Split(' ')
            let isa = if Array.contains "avx512f" flags then "avx512" elif Array.contains "avx2" flags then "avx2" else "avx"
            let machine = report["machine"]
            Expect.equal (machine["isa"].GetValue<string>()) isa "the CPU's vector ISA"
            Expect.equal (machine["threads"].GetValue<int>()) 1 "the default intra-op thread count"
            let mkl = NativeLoadTests.Mkl.expectKernels (NativeLoadTests.Mkl.expectSeeded ())
            Expect.equal (machine["mkl"].GetValue<string>()) mkl "MKL's GEMM path (AMD with AVX2: seeded to its Intel kernels)"
            Expect.equal (machine["weights"].GetValue<string>()) "in-out" "projection weights stored [in, out]"
            Expect.stringContains run.Stdout $"({isa}), 1 intra-op thread" "the run says what it is reproducible on"
            data, runDir
        let jsonlData, jsonlRun = trainOn "jsonl"
        let _, parquetRun = trainOn "parquet"
        // Same rows in another container: SFT targets (extra_info.response), prompts and answers all came through.
        let a, b = rlRows jsonlRun, rlRows parquetRun
        Expect.isGreaterThan a.Length 0 "RL rows logged"
        Expect.equal b a "parquet and JSONL give the same run"
        let bad = klear [ "train"; "data.task=files"; $"data.train_files={jsonlData}/missing.jsonl"; "sft.steps=0" ]
        Expect.equal bad.ExitCode 2 "a missing file is an input error"
        Expect.stringContains bad.Stderr "missing.jsonl" "names the file"
        let badFormat = klear [ "data"; "export"; "--out"; jsonlData; "--format"; "csv" ]
        Expect.equal badFormat.ExitCode 2 "an unknown format is a usage error"
        Directory.Delete(root, true)
    }

let codeTask =
    Requirements.sandboxTest "the synthetic code task runs through SFT, sandboxed RL rewards and evaluation with the ASCII vocabulary" {
        let root = Path.Combine(Path.GetTempPath(), "klear-code-" + Guid.NewGuid().ToString("N"))
        Directory.CreateDirectory root |> ignore
        for split, count in [ "train", 8; "val", 4; "sft", 8 ] do
            let r = klear [ "data"; "synthetic-code"; "--out"; Path.Combine(root, $"{split}.jsonl"); "--count"; string count; "--split"; split ]
            Expect.equal r.ExitCode 0 r.Stderr
        let run mode =
            klear [ "train"; "--output-dir"; Path.Combine(root, mode); "data.task=files"; "model.tokenizer=ascii"; $"reward.code_mode={mode}"
                    $"data.train_files={root}/train.jsonl"; $"data.val_files={root}/val.jsonl"; $"data.sft_files={root}/sft.jsonl"
                    "model.layers=1"; "model.hidden=32"; "model.heads=2"; "model.kv_heads=1"; "model.max_positions=1024"
                    "sft.steps=2"; "sft.batch_size=4"; "trainer.steps=2"; "trainer.prompts_per_step=2"; "rollout.n=2"
                    "rollout.max_new_tokens=16"; "eval.k=1"; "eval.max_new_tokens=16" ]
        for mode, lowest in [ "ratio", 0.0; "hard", 0.0; "signed", -1.0 ] do
            let r = run mode
            Expect.equal r.ExitCode 0 r.Stderr
            let runDir = Directory.GetDirectories(Path.Combine(root, mode)) |> Array.exactlyOne
            let scores =
                File.ReadAllLines(Path.Combine(runDir, "metrics.jsonl"))
                |> Array.map (fun l -> JsonNode.Parse(l).AsObject())
                |> Array.filter (fun o -> o["phase"].GetValue<string>() = "rl")
                |> Array.map (fun o -> o["critic/score/mean"].GetValue<double>())
            Expect.equal scores.Length 2 "two RL steps"
            // 16 random tokens never hold a closed python block: a format error scores the mode's minimum.
            for s in scores do Expect.floatClose Accuracy.high s lowest $"{mode}: format errors score {lowest}"
        Directory.Delete(root, true)
    }

[<Tests>]
let tests = testSequenced (testList "trainer" [ handChecked; corrections; offPolicy; tokenBudget; entropyAndKl; liveTensors; nonFinite; resume; filesTask; codeTask ])
