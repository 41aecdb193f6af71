/// The trainer's pieces against hand computations: data, config, schedules, pass@k, rewards, batches, metrics files.
module Klear.Tests.TrainingTests

open System
open System.IO
open System.Text.Json.Nodes
open Expecto
open Klear.Host.Configuration
open Klear.Host.Cli
open Klear.Host.Data
open Klear.Host.Evaluation
open Klear.Host.Metrics
open Klear.Host.Rewards
open Klear.Host.Training
open Klear.Algorithms

let private tempDir () =
    let d = Path.Combine(Path.GetTempPath(), "klear-test-" + Guid.NewGuid().ToString("N"))
    Directory.CreateDirectory d |> ignore
    d

let dataTests =
    testList "data" [
        test "arithmetic problems are a function of (seed, split, index) and keep totals >= 0" {
            let weights = readOnlyDict [ 3, 1.0 ]
            let a = ArithmeticTask.Problem(7L, "rl", 12L, weights)
            let b = ArithmeticTask.Problem(7L, "rl", 12L, weights)
            Expect.equal a.Expression b.Expression "same draw"
            Expect.notEqual (ArithmeticTask.Problem(7L, "rl", 13L, weights)).Expression a.Expression "next index differs"
            for i in 0L .. 200L do
                let p = ArithmeticTask.Problem(1L, "x", i, weights)
                Expect.isTrue (p.Partials |> Array.forall (fun t -> t >= 0)) $"{p.Expression}"
                // The answer, recomputed here from the expression text.
                let tokens = Text.RegularExpressions.Regex.Matches(p.Expression, @"[+-]?\d+") |> Seq.map (fun m -> int m.Value) |> Seq.sum
                Expect.equal p.Answer tokens $"answer of {p.Expression}"
        }
        test "a perfect teacher's trace is right; a teacher with wrong share 1 always slips" {
            let p = ArithmeticProblem([| 37; 48; 12 |], [| '+'; '-' |])
            Expect.equal (ArithmeticTask.TeacherTrace(p, TeacherSource.Perfect, Random 1)) @"<think>37+48=85;85-12=73</think>\boxed{73}" "the calibration's example"
            for s in 0..50 do
                let trace = ArithmeticTask.TeacherTrace(p, TeacherSource("bad", 1.0), Random s)
                Expect.isFalse (trace.EndsWith @"\boxed{73}") $"slipped: {trace}"
        }
        test "a mix of teachers: each writes its weight's share of traces, with its own error rate" {
            let config = ConfigBinder.Bind<RunConfig>(null, [ "data.teachers=[{name: good, weight: 3}, {name: sloppy, wrong_share: 1.0, weight: 1}]" ])
            let task = ArithmeticTrainingTask(0L, config.Data)
            let wrong =
                [ for i in 0L .. 3999L do
                    let e = task.SftExample i
                    // The answer recomputed from the prompt text, independently of the task code.
                    let expr = e.Prompt.Substring(2, e.Prompt.Length - 3)
                    let answer = Text.RegularExpressions.Regex.Matches(expr, @"[+-]?\d+") |> Seq.sumBy (fun m -> int m.Value)
                    yield not (e.Response.EndsWith $"\\boxed{{{answer}}}") ]
            let share = float (wrong |> List.filter id |> List.length) / 4000.0
            Expect.isTrue (abs (share - 0.25) < 0.03) $"a quarter of traces come from the always-wrong teacher, got {share}"
        }
        test "eval problems never appear in SFT or RL draws" {
            let config = ConfigBinder.Bind<RunConfig>(null, [ "data.eval_problems=300"; "data.sft_operands={2: 1, 3: 1}" ])
            let task = ArithmeticTrainingTask(3L, config.Data)
            let held = task.EvalSet |> Seq.map (fun r -> r.Prompt[0].Content) |> Set.ofSeq
            Expect.equal held.Count 300 "distinct held-out problems"
            for i in 0L .. 3000L do
                Expect.isFalse (held.Contains (task.RlPrompt i).Prompt[0].Content) "rl draw"
                Expect.isFalse (held.Contains (task.SftExample i).Prompt) "sft draw"
        }
        test "verl JSONL: rows round-trip; malformed rows name file, row and field" {
            let dir = tempDir ()
            let good = Path.Combine(dir, "good.jsonl")
            let task = ArithmeticTrainingTask(0L, RunConfig().Data)
            VerlDataset.SaveJsonl(good, task.EvalSet |> Seq.take 5)
            let back = VerlDataset.Load good
            Expect.equal (back |> Seq.map (fun r -> r.GroundTruth) |> List.ofSeq) (task.EvalSet |> Seq.take 5 |> Seq.map (fun r -> r.GroundTruth) |> List.ofSeq) "ground truths"
            let bad = Path.Combine(dir, "bad.jsonl")
            let row = """{"data_source": "math", "prompt": [{"role": "user", "content": "1+1"}], "reward_model": {"ground_truth": "2"}}"""
            let cases =
                [ """{"prompt": [{"role": "user", "content": "x"}], "reward_model": {"ground_truth": "2"}}""", "field 'data_source': missing"
                  """{"data_source": "math", "prompt": [{"role": "user"}], "reward_model": {"ground_truth": "2"}}""", "field 'prompt[0].content': missing"
                  """{"data_source": "math", "prompt": [{"role": "user", "content": "x"}], "reward_model": {}}""", "field 'reward_model.ground_truth': missing"
                  """{"data_source": "math", "prompt": 3, "reward_model": {"ground_truth": "2"}}""", "field 'prompt': expected a list"
                  "{not json", "not valid JSON" ]
            for (line, fragment) in cases do
                File.WriteAllLines(bad, [ row; ""; line ])
                let ex = Expect.throwsC (fun () -> VerlDataset.Load bad |> ignore) id
                Expect.stringContains ex.Message $"{bad}: row 3:" "file and row"
                Expect.stringContains ex.Message fragment "field"
        }
    ]

/// A file in the repository's tests/data (see its README for how the parquet fixtures were written).
let private fixture (name: string) = Repo.file [ "tests"; "data"; name ]

let parquetTests =
    testList "verl parquet" [
        test "a file an Arrow writer wrote reads as written: empty list, null list, null member, nested struct" {
            let rows = VerlDataset.Load(fixture "verl-arrow.parquet")
            Expect.equal rows.Count 3 "rows"
            let messages (r: VerlRow) = r.Prompt |> Seq.map (fun m -> m.Role, m.Content) |> List.ofSeq
            Expect.equal (messages rows[0]) [ "user", "What is 2+2? Let's think step by step." ] "row 1 prompt"
            Expect.equal (messages rows[1]) [ "system", @"Reason, then answer in \boxed{}."; "user", "Solve 2x = 6 — for x." ] "row 2 prompt"
            Expect.equal (messages rows[2]) [ "user", "3+4=" ] "row 3 prompt"
            Expect.equal (rows |> Seq.map (fun r -> r.DataSource, r.Ability, r.GroundTruth) |> List.ofSeq)
                [ "openai/gsm8k", "math", "4"; "openai/gsm8k", "math", "3"; "klear/arithmetic", "arithmetic", "7" ] "scalars"
            // extra_info as the script wrote it (tests/data/make-parquet-fixtures.mjs), member by member: a null member
            // is present and null, not absent; an empty list is [], not null.
            let expected =
                [ """{"index":0,"split":"train","tags":[],"answer":null,"difficulty":0.25,"meta":{"level":1,"source":"gsm8k"}}"""
                  """{"index":1,"split":"test","tags":["algebra","easy"],"answer":"x = 3","difficulty":0.5,"meta":{"level":3,"source":null}}"""
                  """{"index":2,"split":"train","tags":null,"answer":"7","difficulty":1,"meta":null}""" ]
            for i in 0 .. 2 do
                let e = nonNull rows[i].ExtraInfo
                Expect.equal (e.ToJsonString()) expected[i] $"row {i + 1} extra_info"
            let first = nonNull rows[0].ExtraInfo
            Expect.isTrue (first.ContainsKey "answer") "a null member is kept as a member"
            Expect.isTrue (first["tags"] :? JsonArray) "an empty list is a list"
        }
        test "the other Arrow types a dataset may carry read as JSON values, and null as null" {
            let rows = VerlDataset.Load(fixture "arrow-types.parquet")
            let e = nonNull rows[0].ExtraInfo
            let text (k: string) = (nonNull e[k]).ToJsonString()
            // As the script wrote them: dictionary-encoded and large strings as strings, bytes as base64, a map as an
            // object, a timestamp and a date as instants in UTC.
            let expected =
                [ "category", "\"algebra\""; "large_text", "\"long text\""; "bytes", "\"AQL/\""; "flag", "true"; "small", "-5"
                  "count", "4000000000"; "ratio", "0.5"; "scores", """{"a":1.5,"b":null}""" ]
            for (k, v) in expected do Expect.equal (text k) v k
            Expect.equal ((nonNull e["created"]).GetValue<DateTimeOffset>()) (DateTimeOffset(2025, 1, 2, 3, 4, 5, TimeSpan.Zero)) "created"
            Expect.equal ((nonNull e["day"]).GetValue<DateTimeOffset>()) (DateTimeOffset(2025, 1, 2, 0, 0, 0, TimeSpan.Zero)) "day"
            let nulls = nonNull rows[1].ExtraInfo
            Expect.equal (nulls |> Seq.map (fun kv -> kv.Key) |> List.ofSeq) (e |> Seq.map (fun kv -> kv.Key) |> List.ofSeq) "row 2 has every member"
            Expect.isTrue (nulls |> Seq.forall (fun kv -> isNull kv.Value)) "each of them null"
        }
        test "rows round-trip through Save and Load, extra_info included" {
            let dir = tempDir ()
            let path = Path.Combine(dir, "train.parquet")
            let task = ArithmeticTrainingTask(0L, RunConfig().Data)
            let rows =
                task.EvalSet |> Seq.take 7 |> Seq.mapi (fun i r ->
                    if i % 3 = 0 then r
                    else
                        let extra = JsonObject()
                        extra["index"] <- JsonValue.Create(int64 i)
                        extra["response"] <- JsonValue.Create($"<think>{i}</think>")
                        extra["weight"] <- JsonValue.Create(float i / 4.0)
                        VerlRow(r.DataSource, r.Prompt, r.GroundTruth, r.Ability, extra, r.Origin))
                |> List.ofSeq
            VerlParquet.Save(path, rows)
            let back = VerlDataset.Load path
            let key (r: VerlRow) = r.DataSource, r.Prompt[0].Role, r.Prompt[0].Content, r.GroundTruth
            Expect.equal (back |> Seq.map key |> List.ofSeq) (rows |> List.map key) "same rows"
            Expect.stringContains back[3].Origin "train.parquet:4" "origin names file and row"
            // Every field a row had comes back with its value; fields only other rows had come back null.
            let asText (n: JsonNode | null) = match n with null -> "null" | n -> n.ToJsonString()
            for i in 0 .. 6 do
                let before = rows[i].ExtraInfo
                let after = back[i].ExtraInfo
                let keys = rows |> Seq.collect (fun r -> match r.ExtraInfo with null -> Seq.empty | e -> e |> Seq.map (fun kv -> kv.Key)) |> Seq.distinct
                for k in keys do
                    let b = match before with null -> null | e -> e[k]
                    let a = match after with null -> null | e -> e[k]
                    Expect.equal (asText a) (asText b) $"row {i} extra_info.{k}"
            Expect.equal (back[4].ExtraInfo |> nonNull |> fun e -> (nonNull e["response"]).GetValue<string>()) "<think>4</think>" "a response survives"
        }
        test "a file written by another writer: its extra_info struct is read, whatever its fields" {
            let dir = tempDir ()
            let path = Path.Combine(dir, "extra.parquet")
            // Written by arrow-rs (tests/data/make-parquet-fixtures.mjs): row 2's extra_info is {split: test, index: 7, difficulty: 0.25}.
            File.Copy(fixture "other-writer.parquet", path)
            let rows = VerlDataset.Load path
            Expect.equal (rows |> Seq.map (fun r -> r.GroundTruth) |> List.ofSeq) [ "4"; "4" ] "ground truth"
            let e = nonNull rows[1].ExtraInfo
            Expect.equal ((nonNull e["split"]).GetValue<string>()) "test" "split"
            Expect.equal ((nonNull e["index"]).GetValue<int64>()) 7L "index"
            Expect.equal ((nonNull e["difficulty"]).GetValue<float>()) 0.25 "difficulty"
        }
        test "a missing ground truth names file, row and field; a non-parquet file is named" {
            let dir = tempDir ()
            let bad = Path.Combine(dir, "bad.parquet")
            // Written by arrow-rs: row 2's reward_model.ground_truth is null.
            File.Copy(fixture "missing-ground-truth.parquet", bad)
            let ex = Expect.throwsC (fun () -> VerlDataset.Load bad |> ignore) id
            Expect.stringContains ex.Message "bad.parquet: row 2: field 'reward_model.ground_truth': missing" "names it"
            let junk = Path.Combine(dir, "junk.parquet")
            File.WriteAllText(junk, "not parquet at all")
            let ex = Expect.throwsC (fun () -> VerlDataset.Load junk |> ignore) id
            Expect.stringContains ex.Message "junk.parquet: row 0" "names the file"
        }
    ]

let configTests =
    testList "config" [
        test "defaults, YAML and overrides bind with the override winning" {
            let dir = tempDir ()
            let yaml = Path.Combine(dir, "run.yaml")
            File.WriteAllText(yaml, "seed: 5\nactor:\n  clip_ratio_high: 0.3\n  policy_loss: cispo\nrollout:\n  n: 4\n")
            let c = ConfigBinder.Bind<RunConfig>(yaml, [ "actor.clip_ratio_high=0.28"; "trainer.steps=7" ])
            Expect.equal c.Seed 5L "from YAML"
            Expect.equal c.Actor.PolicyLoss "cispo" "from YAML"
            Expect.equal c.Actor.ClipRatioHigh 0.28 "override wins"
            Expect.equal c.Trainer.Steps 7 "override"
            Expect.equal c.Actor.ClipRatioLow 0.2 "default kept"
            Expect.equal c.Rollout.N 4 "nested"
        }
        test "the resolved YAML binds back to the same values" {
            let c = ConfigBinder.Bind<RunConfig>(null, [ "actor.clip_ratio_c=null"; "data.sft_operands={2: 3}"; "model.path=/x/y" ])
            let dir = tempDir ()
            let path = Path.Combine(dir, "config.yaml")
            File.WriteAllText(path, ConfigBinder.ToYaml c)
            let back = ConfigBinder.Bind<RunConfig>(path, [])
            Expect.equal (ConfigBinder.ToYaml back) (ConfigBinder.ToYaml c) "round trip"
            Expect.isFalse back.Actor.ClipRatioC.HasValue "null kept"
            Expect.equal back.Data.SftOperands[2] 3.0 "dictionary kept"
        }
        test "an unknown key names itself and the nearest valid key" {
            let ex = Expect.throwsC (fun () -> ConfigBinder.Bind<RunConfig>(null, [ "actor.clip_ratio_hihg=0.3" ]) |> ignore) id
            Expect.stringContains ex.Message "unknown config key 'actor.clip_ratio_hihg'; did you mean 'actor.clip_ratio_high'?" "message"
            let ex2 = Expect.throwsC (fun () -> ConfigBinder.Bind<RunConfig>(null, [ "actr.lr=1" ]) |> ignore) id
            Expect.stringContains ex2.Message "unknown config key 'actr'; did you mean 'actor'?" "top level"
        }
        test "a value of the wrong type names the key" {
            let ex = Expect.throwsC (fun () -> ConfigBinder.Bind<RunConfig>(null, [ "trainer.steps=many" ]) |> ignore) id
            Expect.stringContains ex.Message "config key 'trainer.steps'" "names the key"
            let ex2 = Expect.throwsC (fun () -> ConfigBinder.Bind<RunConfig>(null, [ "actor=3" ]) |> ignore) id
            Expect.stringContains ex2.Message "'actor' is a section" "section"
        }
    ]

let scheduleTests =
    test "learning rate: linear warm-up, cosine to the floor, constant for RL" {
        let s = LearningRateSchedule.WarmupCosine(1.0, 0.1, 10, 110)
        Expect.floatClose Accuracy.high (s.At 0) 0.1 "first warm-up step"
        Expect.floatClose Accuracy.high (s.At 9) 1.0 "end of warm-up"
        Expect.floatClose Accuracy.high (s.At 60) (0.1 + 0.45 * (1.0 + cos (Math.PI * 0.5))) "half way"
        Expect.floatClose Accuracy.high (s.At 110) 0.1 "floor"
        let c = LearningRateSchedule.WarmupConstant(1e-5, 0)
        Expect.equal (c.At 0) 1e-5 "constant"
        Expect.equal (c.At 1000) 1e-5 "constant"
    }

let passAtKTests =
    test "pass@k equals the brute-force probability that a k-subset holds a correct sample" {
        let choose n k = if k < 0 || k > n then 0.0 else Seq.fold (fun acc i -> acc * float (n - k + i) / float i) 1.0 (seq { 1..k })
        for n in 1..8 do
            for c in 0..n do
                for k in 1..n do
                    Expect.floatClose Accuracy.high (PassAtK.Estimate(n, c, k)) (1.0 - choose (n - c) k / choose n k) $"n={n} c={c} k={k}"
    }

let rewardTests =
    test "math reward: ±1 by the verifier; the think gate gives -2 and -0.5" {
        let r = MathReward(RewardConfig())
        let score (s: string) = let x = r.Score(s, "73") in x.Score, x.Correct
        Expect.equal (score @"<think>37+48=85;85-12=73</think>\boxed{73}") (1.0, true) "right"
        Expect.equal (score @"<think>37+48=85;85-12=72</think>\boxed{72}") (-1.0, false) "wrong"
        Expect.equal (score @"37+48=85;85-12=73</think>\boxed{73}") (-2.0, false) "no <think>"
        Expect.equal (score @"<think>37+48=85;85-12=73\boxed{73}") (-0.5, false) "no </think>"
        Expect.equal (score @"<think>\boxed{72}</think>\boxed{73}") (1.0, true) "only the answer after </think> counts"
    }

let registryTests =
    Requirements.sandboxTest "the run's registry: math rows go to the verifier, code rows to the sandbox (soft reward), unknown sources fail" {
        let registry = StandardRewards.Create(RewardConfig())
        let math = registry.ScoreAsync("klear/arithmetic", @"<think>1+1=2</think>\boxed{2}", "2").Result
        Expect.equal (math.Score, math.Correct) (1.0, true) "math"
        let p = SyntheticCodeTask.Problem(3, 0)
        let good = registry.ScoreAsync("synthetic-code", SyntheticCodeTask.TeacherResponse(p), p.GroundTruth()).Result
        Expect.equal (good.Score, good.Correct) (1.0, true) "the teacher's program passes every test"
        let buggy = registry.ScoreAsync("synthetic-code", SyntheticCodeTask.TeacherResponse(p, true), p.GroundTruth()).Result
        Expect.isFalse buggy.Correct "the buggy program fails some test"
        Expect.isTrue (buggy.Score < 1.0) "and scores its pass ratio"
        Expect.throwsT<Collections.Generic.KeyNotFoundException> (fun () -> registry.Get "chess" |> ignore) "unknown data_source"
    }

let batchTests =
    test "sequence batch: right padding, response mask aligned with the scorer's targets" {
        use _scope = TorchSharp.torch.NewDisposeScope()
        let b = SequenceBatch.Create([| [| 1; 5 |]; [| 1; 6; 7 |] |], [| [| 8; 2 |]; [| 9 |] |], 0)
        Expect.sequenceEqual (b.InputIds.data<int64>().ToArray()) [| 1L; 5L; 8L; 2L; 1L; 6L; 7L; 9L |] "ids"
        // Position j scores token j+1: row 0 targets 8 (pos 1) and 2 (pos 2); row 1 targets 9 (pos 2).
        Expect.sequenceEqual (b.ResponseMask.data<float32>().ToArray()) [| 0.0f; 1.0f; 1.0f; 0.0f; 0.0f; 1.0f |] "mask"
    }

/// A minimal protobuf reader for the test: (field, wire type, value) triples of one message.
let private protoFields (bytes: byte[]) =
    let mutable at = 0
    let varint () =
        let mutable v = 0UL
        let mutable shift = 0
        let mutable go = true
        while go do
            let b = bytes[at]
            at <- at + 1
            v <- v ||| (uint64 (b &&& 0x7Fuy) <<< shift)
            shift <- shift + 7
            go <- b &&& 0x80uy <> 0uy
        v
    [ while at < bytes.Length do
        let key = varint ()
        let field, wire = int (key >>> 3), int (key &&& 7UL)
        match wire with
        | 0 -> yield field, box (varint ())
        | 1 -> yield field, box (BitConverter.ToDouble(bytes, at)); at <- at + 8
        | 5 -> yield field, box (BitConverter.ToSingle(bytes, at)); at <- at + 4
        | 2 ->
            let len = int (varint ())
            yield field, box bytes[at .. at + len - 1]
            at <- at + len
        | w -> failwith $"unexpected wire type {w}" ]

/// CRC-32C (Castagnoli, reflected polynomial 0x82F63B78), bit by bit, and TFRecord's mask of it: the test's own
/// check of the event files' framing, independent of the writer's.
let private crc32c (data: ReadOnlySpan<byte>) =
    let mutable crc = 0xFFFFFFFFu
    for b in data do
        crc <- crc ^^^ uint32 b
        for _ in 1..8 do
            crc <- if crc &&& 1u <> 0u then (crc >>> 1) ^^^ 0x82F63B78u else crc >>> 1
    ~~~crc
let private maskedCrc (data: ReadOnlySpan<byte>) =
    let c = crc32c data
    ((c >>> 15) ||| (c <<< 17)) + 0xA282EAD8u

let tensorBoardTests =
    test "TensorBoard events: CRC-32C check value; framing and CRCs verify; the Event decodes to step, tag and value" {
        Expect.equal (crc32c (ReadOnlySpan "123456789"B)) 0xE3069283u "CRC-32C check value"
        let dir = tempDir ()
        let write () =
            use log = new MetricsLog(dir)
            log.Write("rl", 3L, readOnlyDict [ "reward", 0.5 ])
        let before = DateTimeOffset.UtcNow.ToUnixTimeSeconds()
        write ()
        let bytes = File.ReadAllBytes(Directory.GetFiles(Path.Combine(dir, "tb")) |> Array.exactlyOne)
        let mutable at = 0
        let mutable records = 0
        while at < bytes.Length do
            let len = int (BitConverter.ToUInt64(bytes, at))
            Expect.equal (BitConverter.ToUInt32(bytes, at + 8)) (maskedCrc (ReadOnlySpan(bytes, at, 8))) "length CRC"
            Expect.equal (BitConverter.ToUInt32(bytes, at + 12 + len)) (maskedCrc (ReadOnlySpan(bytes, at + 12, len))) "data CRC"
            at <- at + 16 + len
            records <- records + 1
        Expect.equal records 2 "file-version event + one summary"
        // The first record is the header TensorBoard looks for: Event.file_version = 3.
        let header = protoFields bytes[12 .. 12 + int (BitConverter.ToUInt64(bytes, 0)) - 1]
        Expect.equal (Text.Encoding.UTF8.GetString(header |> List.find (fun (f, _) -> f = 3) |> snd :?> byte[])) "brain.Event:2" "file_version"
        // Decode the second record as tensorflow.Event: step = 2, summary = 5 { value = 1 { tag = 1, simple_value = 2 } }.
        let firstLen = int (BitConverter.ToUInt64(bytes, 0))
        let second = 16 + firstLen
        let event = protoFields bytes[second + 12 .. second + 12 + int (BitConverter.ToUInt64(bytes, second)) - 1]
        Expect.equal (event |> List.find (fun (f, _) -> f = 2) |> snd) (box 3UL) "step"
        // wall_time = 1 in Unix seconds, as TensorBoard plots it (SummaryWriter writes whole seconds).
        let wallTime = event |> List.find (fun (f, _) -> f = 1) |> snd :?> float
        Expect.isTrue (wallTime >= float before && wallTime <= float (DateTimeOffset.UtcNow.ToUnixTimeSeconds())) $"wall_time {wallTime} is now ({before})"
        let summary = event |> List.find (fun (f, _) -> f = 5) |> snd :?> byte[] |> protoFields
        let value = summary |> List.find (fun (f, _) -> f = 1) |> snd :?> byte[] |> protoFields
        Expect.equal (Text.Encoding.UTF8.GetString(value |> List.find (fun (f, _) -> f = 1) |> snd :?> byte[])) "rl/reward" "tag"
        Expect.equal (value |> List.find (fun (f, _) -> f = 2) |> snd) (box 0.5f) "simple_value"
    }

let metricAccumulatorTests =
    test "metric accumulator: micro-batch sums and counts add up as doubles, read once; a whole-step metric replaces; nothing leaks" {
        let rng = Random 4
        let micro () =
            [ for name in [ "actor/pg_loss"; "actor/ppo_kl" ] -> name, float32 (rng.NextDouble() - 0.5), float32 (rng.Next(0, 3)) ]
        let batches = List.init 5 (fun _ -> micro ())
        let before = TorchSharp.DisposeScopeManager.Statistics.ThreadTotalLiveCount
        let read =
            use acc = new MetricAccumulator()
            for b in batches do
                use _scope = TorchSharp.torch.NewDisposeScope()
                let metrics = dict [ for n, s, c in b -> n, { Sum = TorchSharp.torch.tensor s; Count = TorchSharp.torch.tensor c } ]
                acc.Add(Collections.Generic.Dictionary metrics)
            use _scope = TorchSharp.torch.NewDisposeScope()
            acc.Set("actor/entropy", { Sum = TorchSharp.torch.tensor 3.0f; Count = TorchSharp.torch.tensor 2.0f })
            acc.Set("actor/ppo_kl", { Sum = TorchSharp.torch.tensor 1.0f; Count = TorchSharp.torch.tensor 4.0f })
            acc.Read()
        Expect.equal TorchSharp.DisposeScopeManager.Statistics.ThreadTotalLiveCount before "no tensor outlives the accumulator"
        // Independently: the double accumulation the trainer used to do, metric by metric.
        let sum = batches |> List.concat |> List.filter (fun (n, _, _) -> n = "actor/pg_loss") |> List.fold (fun (s, c) (_, x, k) -> s + float x, c + float k) (0.0, 0.0)
        Expect.equal read["actor/pg_loss"] (if snd sum > 0.0 then fst sum / snd sum else 0.0) "Σ sums / Σ counts, bit for bit"
        Expect.equal read["actor/ppo_kl"] 0.25 "Set replaces the accumulated value"
        Expect.equal read["actor/entropy"] 1.5 "a whole-step metric"
    }

let phaseTests =
    test "the phase is written as sft/rl in state.json and checkpoint names, and read back from either spelling" {
        Expect.equal [ for p in Enum.GetValues<TrainingPhase>() -> p.Name(), p.EvalName() ] [ "sft", "eval-sft"; "rl", "eval-rl" ] "names"
        for p in Enum.GetValues<TrainingPhase>() do Expect.equal (TrainingPhaseNames.Parse(p.Name())) p "round trip"
        Expect.throwsT<InvalidDataException> (fun () -> TrainingPhaseNames.Parse "ppo" |> ignore) "unknown phase"
        let dir = tempDir ()
        let config = ConfigBinder.Bind<RunConfig>(null, [ "model.layers=1"; "model.hidden=16"; "model.heads=2"; "model.kv_heads=1" ])
        use model = PolicyFactory.Create(config.Model, 23, 0L)
        use optimizer = new LeanAdamW(model.parameters(), 1e-3, 0.9, 0.999, 1e-8, 0.0)
        let saved = TrainingCheckpoint.Save(dir, model, optimizer, CheckpointState(Phase = TrainingPhase.Rl, NextStep = 2), config)
        Expect.equal (Path.GetFileName saved) "rl-step-000002" "checkpoint directory"
        let state = JsonNode.Parse(File.ReadAllText(Path.Combine(saved, "state.json")))
        Expect.equal (state["phase"].GetValue<string>()) "rl" "state.json spells the phase"
        // A state.json as earlier versions wrote it (the phase was a string field).
        File.WriteAllText(Path.Combine(saved, "state.json"), """{ "phase": "sft", "next_step": 5, "seed": 3, "skipped_steps": 1, "results": { "seconds": 2.5 } }""")
        let back = TrainingCheckpoint.ReadState saved
        Expect.equal (back.Phase, back.NextStep, back.Seed, back.SkippedSteps, back.Results["seconds"]) (TrainingPhase.Sft, 5, 3L, 1, 2.5) "read back"
        Directory.Delete(dir, true)
    }

let optimizerTests =
    test "LeanAdamW steps bit-identically to TorchSharp's AdamW (decay, bias correction, a restored state)" {
        let config = ConfigBinder.Bind<RunConfig>(null, [ "model.layers=1"; "model.hidden=16"; "model.heads=2"; "model.kv_heads=1" ])
        use a = PolicyFactory.Create(config.Model, 23, 3L)
        use b = PolicyFactory.Create(config.Model, 23, 3L)
        use reference = TorchSharp.torch.optim.AdamW(a.parameters(), 0.01, 0.9, 0.95, 1e-8, 0.1)
        let mutable lean = new LeanAdamW(b.parameters(), 0.01, 0.9, 0.95, 1e-8, 0.1)
        let ids = TorchSharp.torch.randint(0L, 23L, [| 2L; 9L |], generator = new TorchSharp.torch.Generator(5UL))
        let step (model: Klear.Host.Model.Qwen3ForCausalLM) (opt: TorchSharp.torch.optim.Optimizer) =
            use scope = TorchSharp.torch.NewDisposeScope()
            opt.zero_grad()
            let logits = model.forward(Klear.Host.Model.CausalLMInput(ids))
            (logits * logits).mean().backward()
            opt.step() |> ignore
        let dir = tempDir ()
        for i in 1 .. 4 do
            step a reference
            step b lean
            if i = 2 then
                // The state goes through TorchSharp's own checkpoint format and comes back into a new LeanAdamW.
                lean.save_state_dict(Path.Combine(dir, "opt.bin"))
                lean.Dispose()
                lean <- new LeanAdamW(b.parameters(), 0.01, 0.9, 0.95, 1e-8, 0.1)
                lean.load_state_dict(Path.Combine(dir, "opt.bin"))
        for (pa, pb) in Seq.zip (a.parameters()) (b.parameters()) do
            Expect.isTrue (pa.eq(pb).all().item<bool>()) "every parameter equal, bit for bit"
        use initial = PolicyFactory.Create(config.Model, 23, 3L)
        Expect.isFalse ((Seq.head (a.parameters())).eq(Seq.head (initial.parameters())).all().item<bool>()) "the steps moved the parameters"
        lean.Dispose()
        Directory.Delete(dir, true)
    }

[<Tests>]
let tests =
    testList "training pieces" [ dataTests; parquetTests; configTests; scheduleTests; passAtKTests; rewardTests; registryTests; batchTests
                                 tensorBoardTests; metricAccumulatorTests; phaseTests
                                 optimizerTests ]
