/// Settings: each objective name to the clip settings the trainer uses; every bad setting caught before any work
/// (exit 2 in seconds, the key and the nearest valid name in the message, no run directory); `config show` lists
/// every key of the records with help, type and default; derived values recorded with the run.
module Klear.Tests.ConfigTests

open System
open System.Diagnostics
open System.IO
open System.Text.RegularExpressions
open Expecto
open Klear.Algorithms
open Klear.Host.Configuration
open Klear.Host.Training

let private bind (overrides: string list) = ConfigBinder.Bind<RunConfig>(null, overrides)

let private clipped eps (low, high) dual level =
    Clipped { Range = { EpsLow = fst eps; EpsHigh = snd eps }; Low = low; High = high; DualClip = dual; Level = level }

/// What the trainer optimises for the default config plus actor.policy_loss=NAME, written out by hand from the paper's
/// defaults (eps 0.2 / 0.28, the recipe's dual clip 10, beta 1).
let objectiveTable =
    testList "objective name -> the clip settings the trainer uses" [
        for name, overrides, expected in
            [ "ppo", [], clipped (0.2, 0.2) (Stop, Stop) (Some 10.0) TokenRatio
              "ppo", [ "actor.clip_ratio_high=0.3" ], clipped (0.2, 0.3) (Stop, Stop) (Some 10.0) TokenRatio
              "clip-higher", [], clipped (0.2, 0.28) (Stop, Stop) (Some 10.0) TokenRatio
              "gppo", [], clipped (0.2, 0.28) (Preserve 1.0, Preserve 1.0) (Some 10.0) TokenRatio
              "gppo-general", [ "actor.beta1=0.25" ], clipped (0.2, 0.28) (Preserve 0.25, Preserve 1.0) (Some 10.0) TokenRatio
              "gppo-only-high", [], clipped (0.2, 0.28) (Stop, Preserve 1.0) (Some 10.0) TokenRatio
              "gppo", [ "actor.clip_ratio_c=null" ], clipped (0.2, 0.28) (Preserve 1.0, Preserve 1.0) None TokenRatio
              "gspo", [], clipped (0.2, 0.28) (Stop, Stop) (Some 10.0) SequenceRatio
              "cispo", [], Cispo(Clamp { EpsLow = 0.2; EpsHigh = 0.28 })
              "ce-gppo", [], clipped (0.2, 0.28) (Preserve 0.75, Preserve 1.0) (Some 10.0) TokenRatio
              "sapo", [], Sapo { TauPos = 1.0; TauNeg = 1.05 }
              "sapo", [ "actor.tau_pos=0.5"; "actor.tau_neg=2" ], Sapo { TauPos = 0.5; TauNeg = 2.0 }
              "gmpo", [ "actor.clip_ratio_low=0.4"; "actor.clip_ratio_high=0.4" ], Gmpo { LogRange = { EpsLow = 0.4; EpsHigh = 0.4 } } ] do
            test $"""{name} {String.concat " " overrides}""" {
                let config = bind ($"actor.policy_loss={name}" :: overrides)
                // RlComponents.Create is what RlTrainer's constructor builds its loss from.
                Expect.equal (RlComponents.Create config).Objective expected "objective"
            }
        test "cispo-capped is TRL's cap at 1 + clip_ratio_high with no lower bound" {
            match (RlComponents.Create(bind [ "actor.policy_loss=cispo-capped"; "actor.clip_ratio_high=4" ])).Objective with
            | Cispo(UpperCap cap) -> Expect.floatClose Accuracy.veryHigh cap 5.0 "cap"
            | other -> failtest $"{other}"
        }
        test "loss inspect reaches cispo-capped: sg(min(r, 1.28))·A·logp, no lower bound" {
            let r = Cli.run [ "loss"; "inspect"; "--objective"; "cispo-capped"; "--ratio"; "2,0.5"; "--advantage"; "1,-1" ]
            Expect.equal r.ExitCode 0 r.Stderr
            use doc = Text.Json.JsonDocument.Parse r.Stdout
            let rows = [ for e in doc.RootElement.EnumerateArray() -> e.GetProperty("loss").GetDouble(), e.GetProperty("grad").GetDouble() ]
            // r = 2, A = 1: weight 1.28, loss -1.28·ln 2, grad -1.28. r = 0.5, A = -1: weight 0.5 (the clamp would say 0.8).
            let expected = [ -1.28 * log 2.0, -1.28; 0.5 * log 0.5, 0.5 ]
            for (l, g), (el, eg) in List.zip rows expected do
                Expect.floatClose TestTensors.close6 l el "loss"
                Expect.floatClose TestTensors.close6 g eg "grad"
        }
        test "the loss CLI builds the same objectives (one builder): ppo symmetric, no dual clip unless asked" {
            Expect.equal (Objective.fromSettings ("ppo", Nullable(), Nullable(), Nullable(), Nullable(), Nullable(), Nullable(), Nullable()))
                (clipped (0.2, 0.2) (Stop, Stop) None TokenRatio) "ppo"
            match Expect.throwsC (fun () -> Objective.fromSettings ("gppo", Nullable 1.5, Nullable(), Nullable(), Nullable(), Nullable(), Nullable(), Nullable()) |> ignore) id with
            | :? ObjectiveSettingException as e -> Expect.equal e.Setting "eps_low" "names the setting"
            | other -> failtest $"{other}"
        }
    ]

let private temp () = Path.Combine(Path.GetTempPath(), "klear-config-" + Guid.NewGuid().ToString("N"))

/// A bad setting through the real exe: exit 2, the message names the key (and the suggestion), in seconds (SFT alone
/// takes minutes), and the run root is never created.
let private rejected (command: string) (overrides: string list) (fragments: string list) =
    let root = temp ()
    let clock = Stopwatch.StartNew()
    let r = Cli.run ([ command; "--output-dir"; root ] @ overrides)
    let seconds = clock.Elapsed.TotalSeconds
    Expect.equal r.ExitCode 2 $"exit code; stderr: {r.Stderr}"
    for f in fragments do Expect.stringContains r.Stderr f "message"
    Expect.isLessThan seconds 30.0 "rejected before any work"
    Expect.isFalse (Directory.Exists root) "no run directory (nor its parent) written"

let badSettings =
    testList "a bad setting exits 2 before any work, naming the key" [
        for overrides, fragments in
            [ [ "actor.policy_loss=gpo" ], [ "actor.policy_loss: unknown 'gpo'"; "did you mean 'gppo'?" ]
              [ "actor.policy_loss=cispo_capped" ], [ "actor.policy_loss"; "did you mean 'cispo-capped'?" ]
              [ "rollout.n=1" ], [ "rollout.n must be >= 2" ]
              [ "algorithm.adv_estimator=grpoo" ], [ "algorithm.adv_estimator: unknown 'grpoo'"; "did you mean 'grpo'?" ]
              [ "actor.kl_loss_type=k5" ], [ "actor.kl_loss_type: unknown 'k5'"; "valid: k1, k2, k3" ]
              [ "actor.loss_agg_mode=token_mean" ], [ "actor.loss_agg_mode"; "did you mean 'token-mean'?" ]
              [ "reward.code_mode=sined" ], [ "reward.code_mode"; "did you mean 'signed'?" ]
              [ "reward.sandbox_mode=colt" ], [ "reward.sandbox_mode"; "did you mean 'cold'?" ]
              [ "data.task=arithmetc" ], [ "data.task"; "did you mean 'arithmetic'?" ]
              [ "model.tokenizer=asci" ], [ "model.tokenizer"; "did you mean 'ascii'?" ]
              [ "actor.clip_ratio_low=1.5" ], [ "actor.clip_ratio_low"; "eps_low must be in [0, 1)" ]
              [ "actor.clip_ratio_high=-1" ], [ "actor.clip_ratio_high" ]
              [ "actor.clip_ratio_c=0.5" ], [ "actor.clip_ratio_c"; "must be > 1" ]
              [ "actor.policy_loss=gppo-general"; "actor.beta1=-1" ], [ "actor.beta1" ]
              [ "actor.lr=-1" ], [ "actor.lr" ]
              [ "actor.policy_loss=sapo"; "actor.tau_neg=0" ], [ "actor.tau_neg"; "tau_neg must be > 0" ]
              [ "actor.kl_loss_type=k3++" ], [ "actor.kl_loss_type"; "did you mean 'k3+'?" ]
              [ "actor.loss_agg_mode=token_sum" ], [ "actor.loss_agg_mode"; "did you mean 'token-sum'?" ]
              [ "algorithm.rollout_is=tokn" ], [ "algorithm.rollout_is"; "did you mean 'token'?" ]
              [ "algorithm.rollout_is=token"; "algorithm.rollout_is_threshold=0" ], [ "algorithm.rollout_is_threshold" ]
              [ "algorithm.rollout_rs=sequence"; "algorithm.rollout_rs_threshold=0.2" ], [ "algorithm.rollout_rs_threshold" ]
              [ "reward.overlong_buffer_len=100" ], [ "reward.overlong_buffer_len"; "rollout.max_new_tokens" ]
              [ "reward.overlong_buffer_len=4"; "reward.overlong_penalty_factor=-1" ], [ "reward.overlong_penalty_factor" ]
              [ "actor.warmup_steps=-2" ], [ "actor.warmup_steps" ]
              [ "actor.mini_batches=0" ], [ "actor.mini_batches" ]
              [ "actor.micro_batches=300" ], [ "actor.micro_batches"; "rollout.n = 256" ]
              [ "actor.kl_loss_coef=.nan" ], [ "actor.kl_loss_coef" ]
              [ "trainer.steps=-1" ], [ "trainer.steps" ]
              [ "trainer.oversample=0.5" ], [ "trainer.oversample" ]
              [ "sft.lr=0" ], [ "sft.lr" ]
              [ "sft.min_lr=1" ], [ "sft.min_lr" ]
              [ "sft.steps=-1" ], [ "sft.steps" ]
              [ "sft.batch_size=0" ], [ "sft.batch_size" ]
              [ "sft.stop_at_accuracy=1.5" ], [ "sft.stop_at_accuracy must lie in [0, 1]" ]
              [ "sft.check_every=0" ], [ "sft.check_every must be at least 1" ]
              [ "sft.stop_at_accuracy=0"; "sft.check_problems=0"; "sft.check_every=0"; "sft.steps=-1" ], [ "sft.steps" ]
              [ "sft.check_problems=0" ], [ "sft.check_problems must be at least 1" ]
              [ "model.heads=3" ], [ "model.heads" ]
              [ "rollout.top_p=2" ], [ "rollout.top_p" ]
              [ "eval.temperature=-1" ], [ "eval.temperature" ]
              [ "eval.k=0" ], [ "eval.k" ]
              [ "threads=0" ], [ "threads must be >= 1" ]
              [ "algorithm.adv_estimator=null" ], [ "config key 'algorithm.adv_estimator' cannot be null" ]
              [ "data.teachers=null" ], [ "config key 'data.teachers' cannot be null" ] ] do
            test (String.concat " " overrides) { rejected "quickstart" overrides fragments }
        test "train checks the same way" { rejected "train" [ "actor.policy_loss=clip-hihger" ] [ "did you mean 'clip-higher'?" ] }
        test "config show checks the same way" {
            let r = Cli.run [ "config"; "show"; "rollout.n=1" ]
            Expect.equal r.ExitCode 2 r.Stderr
            Expect.stringContains r.Stderr "rollout.n" "key"
        }
    ]

let private keys () = ConfigDescription.Keys(typeof<RunConfig>, "") |> Seq.map (fun struct (k, p) -> k, p) |> List.ofSeq

let configShow =
    testList "config show" [
        test "every key of the records has a one-line help" {
            let all = keys ()
            Expect.isGreaterThan all.Length 80 "all keys enumerated (sections, leaves, teacher fields)"
            for key, p in all do
                let help = ConfigDescription.Help p
                Expect.isTrue (help.Trim().Length > 0) $"{key} has help"
                Expect.isFalse (help.Contains '\n') $"{key}: one line"
        }
        test "the name keys' help lists every registered name" {
            let help key = keys () |> List.find (fst >> (=) key) |> snd |> ConfigDescription.Help
            for n in Objective.names do Expect.stringContains (help "actor.policy_loss") n "objective"
            for e in Advantages.all do Expect.stringContains (help "algorithm.adv_estimator") (Advantages.name e) "estimator"
            for a in Aggregation.all do Expect.stringContains (help "actor.loss_agg_mode") (Aggregation.name a) "aggregation"
        }
        test "prints every key under its help, with type and default; an override changes only the value" {
            let r = Cli.run [ "config"; "show"; "actor.clip_ratio_low=0.15"; "rollout.n=4"; "actor.policy_loss=ppo" ]
            Expect.equal r.ExitCode 0 r.Stderr
            let out = "\n" + r.Stdout.Replace("\r\n", "\n")
            for key, p in keys () do
                let segments = key.Replace("[]", "").Split '.'
                let leaf = segments[segments.Length - 1]
                let pad = String(' ', 2 * (segments.Length - 1))
                let pattern =
                    if key.Contains "[]" then Regex.Escape($"#   {leaf}: {ConfigDescription.Help p} (")
                    else "\n" + Regex.Escape($"{pad}# {ConfigDescription.Help p}") + "[^\n]*\n(?:" + Regex.Escape($"{pad}#   ") + "[^\n]*\n)*" + Regex.Escape($"{pad}{leaf}:")
                Expect.isTrue (Regex.IsMatch(out, pattern)) $"{key} printed under its help"
            Expect.stringContains out "\n  clip_ratio_low: 0.15\n" "override shown"
            Expect.stringContains out "(float; default 0.2)\n  clip_ratio_low: 0.15" "default beside it"
            Expect.stringContains out "(int; default 8)\n  n: 4\n" "rollout.n"
            Expect.stringContains out "(float or null; default null)\n  clip_ratio_high: null\n" "nullable type"
            Expect.stringContains out "(string or null; default null)\n  path: null\n" "nullable string"
            // ppo's effective range is symmetric at the overridden eps_low.
            Expect.stringContains out "\nderived:\n" "derived section"
            Expect.stringContains out "    name: \"ppo\"\n    eps_low: 0.15\n    eps_high: 0.15\n    dual_clip: 10\n" "effective clip of ppo"
        }
        test "the printed YAML binds back (derived: skipped) to the same configuration, via --config" {
            let overrides = [ "actor.policy_loss=cispo"; "data.sft_operands={2: 3}"; "trainer.oversample=1.5"; "model.path=null" ]
            let r = Cli.run ([ "config"; "show" ] @ overrides)
            Expect.equal r.ExitCode 0 r.Stderr
            let dir = temp ()
            Directory.CreateDirectory dir |> ignore
            let file = Path.Combine(dir, "shown.yaml")
            File.WriteAllText(file, r.Stdout)
            let back = ConfigBinder.Bind<RunConfig>(file, [])
            Expect.equal (ConfigBinder.ToYaml back) (ConfigBinder.ToYaml(bind overrides)) "same configuration"
            let again = Cli.run [ "config"; "show"; "--config"; file; "rollout.n=6" ]
            Expect.equal again.ExitCode 0 again.Stderr
            Expect.stringContains again.Stdout "  policy_loss: \"cispo\"\n" "from the file"
            Expect.stringContains again.Stdout "  n: 6\n" "override on top of the file"
            Directory.Delete(dir, true)
        }
    ]

let derived =
    testList "derived values" [
        test "prompts drawn, rollouts and SFT plan length, by hand" {
            // ceil(5 × 1.5) = 8 prompts, × 4 rollouts = 32; sft.steps decides the plan: 7 steps.
            let run = TrainingRun(bind [ "trainer.prompts_per_step=5"; "trainer.oversample=1.5"; "rollout.n=4"; "sft.steps=7"; "data.eval_problems=4" ], TextWriter.Null)
            Expect.equal (run.Derived["prompts_drawn_per_step"].GetValue<int>()) 8 "drawn"
            Expect.equal (run.Derived["rollouts_per_step"].GetValue<int>()) 32 "rollouts"
            Expect.equal (run.Derived["sft_steps"].GetValue<int>()) 7 "sft steps"
            Expect.equal ((run.Derived["objective"]["eps_high"]).GetValue<double>()) 0.28 "gppo's eps_high"
            Expect.equal ((run.Derived["objective"]["low_bound_gradient_beta"]).GetValue<double>()) 1.0 "gppo keeps the low bound's gradient"
        }
        test "a run's config.yaml records them under derived:, and binds back without them" {
            let config = bind [ "trainer.oversample=2"; "data.eval_problems=4"; $"output_dir={temp ()}" ]
            let run = TrainingRun(config, TextWriter.Null)
            let dir = RunDirectory.Create(config, "arithmetic", run.Derived)
            let path = Path.Combine(dir.Path, "config.yaml")
            let text = File.ReadAllText path
            Expect.stringContains text "\nderived:\n  prompts_drawn_per_step: 64\n" "32 × 2 prompts"
            Expect.stringContains text "  sft_steps: 450\n" "the default plan"
            Expect.equal (ConfigBinder.ToYaml(ConfigBinder.Bind<RunConfig>(path, []))) (ConfigBinder.ToYaml config) "binds back"
            Directory.Delete(config.OutputDir, true)
        }
        test "an empty section keeps its defaults" {
            let dir = temp ()
            Directory.CreateDirectory dir |> ignore
            let file = Path.Combine(dir, "empty.yaml")
            File.WriteAllText(file, "actor:\nrollout:\n  n: 4\n")
            let c = ConfigBinder.Bind<RunConfig>(file, [])
            Expect.equal c.Actor (ActorConfig()) "actor defaults"
            Expect.equal c.Rollout.N 4 "the given key"
            Directory.Delete(dir, true)
        }
        test "a command's recipe sits between the defaults and the config file; the command line wins over both" {
            let recipe = [ "sft.steps=900"; "sft.stop_at_accuracy=0.4"; "rollout.n=6" ]
            let c = ConfigBinder.Bind<RunConfig>(null, [], recipe)
            Expect.equal (c.Sft.Steps, c.Sft.StopAtAccuracy, c.Rollout.N) (900, 0.4, 6) "the recipe over the defaults"
            Expect.equal c.Sft.CheckEvery (SftConfig().CheckEvery) "keys it does not name keep their defaults"
            let dir = temp ()
            Directory.CreateDirectory dir |> ignore
            let file = Path.Combine(dir, "mine.yaml")
            File.WriteAllText(file, "sft:\n  steps: 300\n")
            let f = ConfigBinder.Bind<RunConfig>(file, [ "rollout.n=4" ], recipe)
            Expect.equal f.Sft.Steps 300 "the file over the recipe"
            Expect.equal f.Sft.StopAtAccuracy 0.4 "the file's sft section merges into the recipe's, key by key"
            Expect.equal f.Rollout.N 4 "the command line over both"
            Expect.equal (ConfigBinder.Bind<RunConfig>(file, []).Sft.StopAtAccuracy) 0.0 "without the recipe: the default"
            Directory.Delete(dir, true)
        }
        test "the quickstart brings its SFT stop (check settings are checked), train keeps the plain defaults (they are not)" {
            // sft.check_every is validated only while the stop is on, so the message shows which commands turn it on.
            rejected "quickstart" [ "sft.check_every=0" ] [ "sft.check_every must be at least 1" ]
            rejected "train" [ "sft.check_every=0"; "trainer.steps=-1" ] [ "trainer.steps" ]
            let r = Cli.run [ "train"; "--output-dir"; temp (); "sft.check_every=0"; "trainer.steps=-1" ]
            Expect.isFalse (r.Stderr.Contains "sft.check_every") "train: no stop, so its check settings do not matter"
            Expect.sequenceEqual Klear.Host.Cli.QuickstartRecipe.Overrides [ "sft.steps=900"; "sft.stop_at_accuracy=0.4"; "sft.check_every=25"; "sft.check_problems=200" ] "the recipe README documents"
        }
        test "a derived key given as an override is still an unknown key" {
            let ex = Expect.throwsC (fun () -> bind [ "derived.sft_steps=3" ] |> ignore) id
            Expect.stringContains ex.Message "unknown config key 'derived'" "message"
        }
    ]

[<Tests>]
let tests = testSequenced (testList "settings" [ objectiveTable; badSettings; configShow; derived ])
