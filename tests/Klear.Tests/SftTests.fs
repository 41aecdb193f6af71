/// SFT batching plans (fixed size, token budget, epochs) against hand-made packings, and the validation loss against
/// a per-example computation on unpadded sequences.
module Klear.Tests.SftTests

open System
open System.IO
open System.Text.Json.Nodes
open Expecto
open TorchSharp
open Klear.Host.Configuration
open Klear.Host.Cli
open Klear.Host.Tokenization
open Klear.Host.Training

let private plan (overrides: string list) (count: int64 option) (lengths: int64 -> int) =
    let config = ConfigBinder.Bind<RunConfig>(null, overrides)
    SftPlan.Create(config.Sft, Option.toNullable count, Func<_, _>(lengths)).Batches |> Seq.map (fun struct (s, c) -> s, c) |> List.ofSeq

/// The packing rule written out directly: fill a batch until one more row would make rows × longest exceed the budget.
let private handPack (budget: int) (maxRows: int) (lengths: int list) =
    let rec go start (acc: (int64 * int) list) (rest: int list) =
        match rest with
        | [] -> List.rev acc
        | _ ->
            let mutable n = 0
            let mutable longest = 0
            let mutable stop = false
            for l in rest do
                if not stop then
                    let l' = max longest l
                    if n < maxRows && (n = 0 || l' * (n + 1) <= budget) then n <- n + 1; longest <- l'
                    else stop <- true
            go (start + int64 n) ((start, n) :: acc) (List.skip n rest)
    go 0L [] lengths

let private planTests =
    testList "plan" [
        test "fixed batches: step k takes examples k·B … k·B + B − 1" {
            Expect.equal (plan [ "sft.steps=3"; "sft.batch_size=4" ] None (fun _ -> failwith "lengths are not needed"))
                [ 0L, 4; 4L, 4; 8L, 4 ] "three steps of four"
        }
        test "epochs over a finite data set: steps follow from the size, the last batch is short" {
            Expect.equal (plan [ "sft.epochs=2"; "sft.batch_size=4" ] (Some 5L) (fun _ -> 1)) [ 0L, 4; 4L, 4; 8L, 2 ] "10 examples"
            Expect.equal (plan [ "sft.epochs=0.5"; "sft.batch_size=4" ] (Some 5L) (fun _ -> 1)) [ 0L, 3 ] "ceil(2.5) = 3 examples"
        }
        test "a token budget packs rows until rows × longest would exceed it" {
            let lengths = [ 5; 3; 9; 2; 2; 2; 2; 30; 4; 4; 4; 4; 4; 4 ]
            let got = plan [ "sft.epochs=1"; "sft.batch_size=5"; "sft.max_tokens=16" ] (Some (int64 lengths.Length)) (fun i -> lengths[int i])
            Expect.equal got (handPack 16 5 lengths) "same as the rule by hand"
            // By hand: [5;3] (9 would make 3×9), [9], [2;2;2;2] (then 30), [30] alone over budget, [4;4;4;4], [4;4].
            Expect.equal got [ 0L, 2; 2L, 1; 3L, 4; 7L, 1; 8L, 4; 12L, 2 ] "and as worked out"
            for (s, c) in got do
                let ls = lengths[int s .. int s + c - 1]
                Expect.isTrue (c = 1 || List.max ls * c <= 16) $"batch at {s} within budget"
        }
        test "bad settings name their key" {
            let fails overrides count (key: string) =
                let ex = Expect.throwsC (fun () -> plan overrides count (fun _ -> 1) |> ignore) id
                Expect.stringContains ex.Message key $"{overrides} names {key}"
            fails [ "sft.epochs=1" ] None "sft.epochs"
            fails [ "sft.epochs=-1" ] (Some 4L) "sft.epochs"
            fails [ "sft.max_tokens=-5" ] None "sft.max_tokens"
            fails [ "sft.batch_size=0" ] None "sft.batch_size"
        }
    ]

let private validationLoss =
    test "validation loss = response NLL token-mean, as computed one unpadded example at a time" {
        let config = ConfigBinder.Bind<RunConfig>(null, [ "model.layers=1"; "model.hidden=32"; "model.heads=2"; "model.kv_heads=1"; "sft.batch_size=3" ])
        let tokenizer = CharTokenizer.Arithmetic()
        let task = ArithmeticTrainingTask(config.Seed, config.Data)
        let model = PolicyFactory.Create(config.Model, tokenizer.VocabSize, config.Seed)
        let trainer = SftTrainer(model, tokenizer, task, config.Sft)
        let examples = task.SftValidationSet 7
        Expect.equal examples.Count 7 "seven held-out examples"
        let heldOut = set [ for e in examples -> e.Prompt ]
        let trained = set [ for i in 0L .. 199L -> (task.SftExample i).Prompt ]
        Expect.isLessThan (Set.intersect heldOut trained).Count 3 "held-out prompts come from their own stream"
        let got = trainer.ValidationLoss examples
        // Independent: each example alone (no padding, no batching), logits → log-softmax → next-token log-probs.
        let special = SpecialTokens.From tokenizer
        let mutable nll = 0.0
        let mutable tokens = 0
        use _ = torch.no_grad()
        for e in examples do
            let prompt = special.EncodePrompt(tokenizer, e.Prompt)
            let response = Array.append (tokenizer.Encode e.Response) [| special.Eos |]
            let ids = Array.append prompt response |> Array.map int64
            use input = torch.tensor(ids).unsqueeze 0L
            use logits = model.forward(Klear.Host.Model.CausalLMInput(input))
            use logp = torch.nn.functional.log_softmax(logits.squeeze 0L, 1L)
            for t in prompt.Length .. ids.Length - 1 do
                nll <- nll - float (logp[int64 (t - 1), ids[t]].item<float32>())
                tokens <- tokens + 1
        Expect.floatClose Accuracy.medium got (nll / float tokens) "same NLL"
    }

let private stepLoss =
    test "an SFT step's loss = response NLL token-mean over its batch, as computed one unpadded example at a time" {
        let config = ConfigBinder.Bind<RunConfig>(null, [ "model.layers=1"; "model.hidden=32"; "model.heads=2"; "model.kv_heads=1"; "sft.batch_size=5" ])
        let tokenizer = CharTokenizer.Arithmetic()
        let task = ArithmeticTrainingTask(config.Seed, config.Data)
        let model = PolicyFactory.Create(config.Model, tokenizer.VocabSize, config.Seed)
        let trainer = SftTrainer(model, tokenizer, task, config.Sft)
        let struct (start, count) = trainer.Plan.Batches[0]
        // Independent, before the update: each example alone, logits → log-softmax → next-token log-probs.
        let special = SpecialTokens.From tokenizer
        let mutable nll = 0.0
        let mutable tokens = 0
        do
            use _ = torch.no_grad()
            for i in 0 .. count - 1 do
                let e = task.SftExample(start + int64 i)
                let prompt = special.EncodePrompt(tokenizer, e.Prompt)
                let ids = Array.append prompt (Array.append (tokenizer.Encode e.Response) [| special.Eos |]) |> Array.map int64
                use input = torch.tensor(ids).unsqueeze 0L
                use logits = model.forward(Klear.Host.Model.CausalLMInput(input))
                use logp = torch.nn.functional.log_softmax(logits.squeeze 0L, 1L)
                for t in prompt.Length .. ids.Length - 1 do
                    nll <- nll - float (logp[int64 (t - 1), ids[t]].item<float32>())
                    tokens <- tokens + 1
        use optimizer = trainer.CreateOptimizer()
        let m = trainer.Step(optimizer, 0)
        Expect.equal m["sft/batch_sequences"] (float count) "the plan's first batch"
        Expect.floatClose Accuracy.medium m["sft/loss"] (nll / float tokens) "same NLL"
    }

let private fromFiles =
    test "a run over files: one epoch under a token budget sees every SFT row once; validation loss when asked" {
        let root = Path.Combine(Path.GetTempPath(), "klear-sft-" + Guid.NewGuid().ToString("N"))
        let data, heldOut = Path.Combine(root, "data"), Path.Combine(root, "heldout")
        for dir, seed in [ data, 0; heldOut, 1 ] do
            let r = Cli.run [ "data"; "export"; "--out"; dir; "--train"; "8"; "--sft"; "40"; $"seed={seed}"; "data.eval_problems=4" ]
            Expect.equal r.ExitCode 0 r.Stderr
        let run =
            Cli.run [ "train"; "--output-dir"; Path.Combine(root, "runs"); "data.task=files"; $"data.train_files={data}/train.jsonl"
                      $"data.val_files={data}/val.jsonl"; $"data.sft_files={data}/sft.jsonl"; $"data.sft_val_files={heldOut}/sft.jsonl"
                      "sft.epochs=1"; "sft.batch_size=16"; "sft.max_tokens=300"; "sft.eval_every=2"; "sft.val_examples=10"
                      "trainer.steps=0"; "model.layers=1"; "model.hidden=32"; "model.heads=2"; "model.kv_heads=1"; "eval.k=1"; "eval.max_new_tokens=8" ]
        Expect.equal run.ExitCode 0 run.Stderr
        let runDir = Directory.GetDirectories(Path.Combine(root, "runs")) |> Array.exactlyOne
        let rows =
            File.ReadAllLines(Path.Combine(runDir, "metrics.jsonl")) |> Array.map (fun l -> JsonNode.Parse(l).AsObject())
            |> Array.filter (fun o -> o["phase"].GetValue<string>() = "sft")
        let sequences = rows |> Array.sumBy (fun o -> o["sft/batch_sequences"].GetValue<float>())
        Expect.equal sequences 40.0 "every SFT row once"
        Expect.isGreaterThan rows.Length 3 "a 300-token budget makes batches smaller than 16 rows"
        for i, o in Array.indexed rows do
            let expectVal = (i + 1) % 2 = 0 || i = rows.Length - 1
            Expect.equal (o.ContainsKey "sft/val_loss") expectVal $"step {i}: validation loss every 2 steps and at the end"
        let bad = Cli.run [ "train"; "--output-dir"; Path.Combine(root, "bad-runs"); "sft.epochs=1" ]
        Expect.equal bad.ExitCode 2 "epochs over a generated task is a config error"
        Expect.stringContains bad.Stderr "sft.epochs" "naming the key"
        Expect.isFalse (Directory.Exists(Path.Combine(root, "bad-runs")) && Directory.EnumerateFileSystemEntries(Path.Combine(root, "bad-runs")) |> Seq.isEmpty |> not)
            "found before a run directory is written"
        Directory.Delete(root, true)
    }

let private metricRows (runDir: string) (phase: string) =
    File.ReadAllLines(Path.Combine(runDir, "metrics.jsonl")) |> Array.map (fun l -> JsonNode.Parse(l).AsObject())
    |> Array.filter (fun o -> o["phase"].GetValue<string>() = phase)

let private tiny = [ "model.layers=1"; "model.hidden=32"; "model.heads=2"; "model.kv_heads=1"; "sft.batch_size=8"; "eval.k=1"; "eval.max_new_tokens=16" ]

let private stopAtAccuracy =
    testList "stop at accuracy" [
        test "SftStop: checks every check_every steps but never after the last; reached at or above the target; off at 0" {
            let c = SftConfig(StopAtAccuracy = 0.4, CheckEvery = 25)
            let checkedSteps = [ 0 .. 99 ] |> List.filter (fun s -> SftStop.ChecksAfter(c, s, 100))
            Expect.equal checkedSteps [ 24; 49; 74 ] "after steps 25, 50, 75 (0-based 24, 49, 74); not after the 100th"
            Expect.isTrue (SftStop.Reached(c, 0.4)) "at the target"
            Expect.isFalse (SftStop.Reached(c, 0.3999)) "below"
            let off = SftConfig()
            Expect.isFalse ([ 0 .. 99 ] |> List.exists (fun s -> SftStop.ChecksAfter(off, s, 100))) "off: no checks"
            Expect.isFalse (SftStop.Reached(off, 1.0)) "off: never stops"
        }
        test "a target the policy reaches: SFT stops at the first check at or above it, records where, and RL starts from there" {
            // A task whose every answer is 7: the tiny policy learns the constant trace within tens of steps.
            let root = Path.Combine(Path.GetTempPath(), "klear-sftstop-" + Guid.NewGuid().ToString("N"))
            let data = Path.Combine(root, "data")
            let r = Cli.run [ "data"; "export"; "--out"; data; "--train"; "40"; "--sft"; "64"; "data.eval_problems=20" ]
            Expect.equal r.ExitCode 0 r.Stderr
            let rewrite (file: string) (edit: JsonObject -> unit) =
                let path = Path.Combine(data, file)
                File.ReadAllLines path |> Array.map (fun l -> let o = JsonNode.Parse(l).AsObject() in edit o; o.ToJsonString()) |> fun ls -> File.WriteAllLines(path, ls)
            for f in [ "train.jsonl"; "val.jsonl" ] do rewrite f (fun o -> o["reward_model"]["ground_truth"] <- JsonValue.Create("7"))
            rewrite "sft.jsonl" (fun o -> o["extra_info"]["response"] <- JsonValue.Create("<think>7</think>\\boxed{7}"))
            let run =
                Cli.run ([ "train"; "--output-dir"; Path.Combine(root, "runs"); "data.task=files"; $"data.train_files={data}/train.jsonl"
                           $"data.val_files={data}/val.jsonl"; $"data.sft_files={data}/sft.jsonl"; "sft.steps=400"; "sft.warmup_steps=5"
                           "sft.stop_at_accuracy=0.9"; "sft.check_every=5"; "sft.check_problems=20"; "trainer.steps=1"; "trainer.prompts_per_step=4" ] @ tiny)
            Expect.equal run.ExitCode 0 run.Stderr
            let runDir = Directory.GetDirectories(Path.Combine(root, "runs")) |> Array.exactlyOne
            let sft = metricRows runDir "sft"
            let checks = sft |> Array.filter (fun o -> o.ContainsKey "sft/check_greedy")
            Expect.isLessThan sft.Length 400 "stopped before the last step"
            Expect.isGreaterThan sft.Length 5 "not at the first check: the untrained policy does not answer 7"
            Expect.equal (checks |> Array.map (fun o -> o["step"].GetValue<int>())) [| for s in 4 .. 5 .. sft.Length - 1 -> s |] "a check every 5 steps"
            let accuracies = checks |> Array.map (fun o -> o["sft/check_greedy"].GetValue<float>())
            Expect.isGreaterThanOrEqual (Array.last accuracies) 0.9 "the last check reached the target"
            Expect.isTrue (accuracies |> Array.take (accuracies.Length - 1) |> Array.forall (fun a -> a < 0.9)) "no earlier check did"
            Expect.equal (sft |> Array.last |> fun o -> o["step"].GetValue<int>()) (checks |> Array.last |> fun o -> o["step"].GetValue<int>()) "SFT ends at that check"
            let report = JsonNode.Parse(File.ReadAllText(Path.Combine(runDir, "report.json")))
            let stoppedAt = report.["sft_steps"].GetValue<double>()
            Expect.equal stoppedAt (float (Array.length sft)) "report: where SFT stopped"
            Expect.isTrue (File.Exists(Path.Combine(runDir, "eval", $"sft-step-{sft.Length:D6}.jsonl"))) "the SFT evaluation is named by the step it stopped at"
            Expect.equal (metricRows runDir "rl").Length 1 "RL ran from there"
            Directory.Delete(root, true)
        }
        test "checks that never reach the target change nothing: the same SFT losses as a run without them" {
            let root = Path.Combine(Path.GetTempPath(), "klear-sftstop-" + Guid.NewGuid().ToString("N"))
            let losses (extra: string list) =
                let out = Path.Combine(root, Guid.NewGuid().ToString("N"))
                let r = Cli.run ([ "train"; "--output-dir"; out; "sft.steps=12"; "trainer.steps=0"; "data.eval_problems=4" ] @ tiny @ extra)
                Expect.equal r.ExitCode 0 r.Stderr
                let rows = metricRows (Directory.GetDirectories out |> Array.exactlyOne) "sft"
                rows |> Array.map (fun o -> o["sft/loss"].GetValue<float>()), rows |> Array.filter (fun o -> o.ContainsKey "sft/check_greedy") |> Array.length
            let plain, none = losses []
            let withChecks, checks = losses [ "sft.stop_at_accuracy=1"; "sft.check_every=4"; "sft.check_problems=8" ]
            Expect.equal none 0 "no checks when off"
            Expect.equal checks 2 "after steps 4 and 8 (not after the 12th, the last)"
            Expect.equal withChecks plain "identical losses: a check samples greedily and draws nothing from the run's randomness"
            Directory.Delete(root, true)
        }
    ]

[<Tests>]
let tests = testSequenced (testList "sft" [ planTests; validationLoss; stepLoss; fromFiles; stopAtAccuracy ])
