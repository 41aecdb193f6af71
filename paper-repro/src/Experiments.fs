/// The paper's ablations as values. Numbers in `PaperTable` and `Arm.Paper` are the paper's (Klear-Reasoner,
/// arXiv 2508.07629 v1; curves read off its figures to ±0.002), copied so the code depends on nothing outside the tree.
module PaperRepro.Experiments

// ---- metrics -------------------------------------------------------------------------------------------------------

let private metric label phase key reduce =
    { Label = label; Phase = phase; Key = key; Reduce = reduce; Direction = HigherIsBetter }

/// Held-out accuracy after RL: mean over k = 4 sampled passes (T 0.6, top-p 0.95), the analogue of avg@32.
let heldOutFinal = metric "held-out avg@4, final" "eval-rl" "val/avg@4" Final
let heldOutPeak = metric "held-out avg@4, peak" "eval-rl" "val/avg@4" Peak
let heldOutGreedy = metric "held-out greedy, final" "eval-rl" "val/greedy" Final
let afterSft = metric "held-out avg@4 after SFT" "eval-sft" "val/avg@4" Final
let afterSftGreedy = metric "held-out greedy after SFT" "eval-sft" "val/greedy" Final
let trainReward = metric "training reward, last 10 steps" "rl" "critic/score/mean" (MeanOfLast 10)
let entropy = metric "policy entropy, last 10 steps" "rl" "actor/entropy" (MeanOfLast 10)
/// Mean over the whole run (MeanOfLast of more rows than exist is the mean of all).
let clipFrac = metric "pg_clipfrac, run mean" "rl" "actor/pg_clipfrac" (MeanOfLast 100000)
let clipFracLower = metric "pg_clipfrac_lower, run mean" "rl" "actor/pg_clipfrac_lower" (MeanOfLast 100000)
let preservedShare = metric "GPPO preserved-gradient share, run mean" "rl" "actor/gppo_preserved_grad_share" (MeanOfLast 100000)
let sftLoss = { metric "SFT loss" "sft" "sft/loss" Final with Direction = LowerIsBetter }
let sftValLoss = { metric "SFT validation loss (on the arm's own teachers)" "sft" "sft/val_loss" Final with Direction = LowerIsBetter }

let private rlCurves =
    [ metric "held-out avg@4" "eval-rl" "val/avg@4" Final
      { trainReward with Label = "training reward" }
      { entropy with Label = "policy entropy" }
      { clipFrac with Label = "pg_clipfrac" } ]
let private sftCurves = [ sftLoss ]

// ---- shared settings -----------------------------------------------------------------------------------------------

/// The SFT the RL ablations start from: the quickstart's (2- and 3-operand chains 1:2, 450 steps × 128, lr 2e-3
/// cosine to 2e-4), which gets the tiny policy to roughly 20–45% held-out accuracy on 3-operand chains.
let quickstartSft = { Name = "quickstart"; Overrides = [] }

/// The RL regime shared by the RL ablations. Chosen by a rule that does not look at any comparison: on calibration
/// seed 0 (never one of the experiments' seeds), the highest actor.lr at which the GPPO baseline still improves
/// held-out accuracy, with enough mini-batches per rollout batch that a few percent or more of tokens leave the clip
/// range. Until that calibration has run, these are its starting point: 3× the quickstart lr and 4 mini-batches (the
/// quickstart's 1e-5 with 2 mini-batches leaves pg_clipfrac at 0, so every objective takes the same step).
let rlRegime =
    [ "actor.lr=1e-5"; "actor.mini_batches=4"; "trainer.steps=80"; "trainer.eval_every=10"; "trainer.save_every=20" ]

/// The clipping regime: the calibration setting with the lowest lr (then fewest mini-batches) whose GPPO run clipped
/// ≥ 1% of tokens — lr 3e-5 with 16 mini-batches (1.48%; it lost 0.133 held-out avg@4 on seed 0). Declared on
/// 2026-12-01 after the calibration and before any objective comparison ran, because the rule's regime above clips
/// only 0.01% of tokens: there the objectives can barely differ. Here they must, at the price of a degrading baseline.
let rlClippingRegime =
    [ "actor.lr=3e-5"; "actor.mini_batches=16"; "trainer.steps=80"; "trainer.eval_every=10"; "trainer.save_every=20" ]

let private rlRegimeNote =
    "RL from the shared quickstart SFT checkpoint on 3-operand chains; actor.lr 1e-5, 4 mini-batches per rollout batch, "
    + "80 steps × 32 prompts × 8 samples, evaluation every 10 steps on 400 held-out problems. Rule for the regime "
    + "(fixed before any comparison): on calibration seed 0, the highest lr at which the baseline still improves "
    + "held-out accuracy, with enough mini-batches that a few percent or more of tokens leave the clip range; the "
    + "values here are what the rule chose. Precisely (fixed on 2026-12-01 before the "
    + "calibration's results were seen): among the regime arms with a held-out avg@4 gain over SFT > 0 and a mean "
    + "actor/pg_clipfrac + actor/pg_clipfrac_lower over the RL steps ≥ 0.01, take the highest lr, then the larger "
    + "mini-batch count; if no arm clips that much, the highest gaining lr with 4 mini-batches. Outcome (seed 0, see "
    + "regime): no gaining arm clipped ≥ 1% (lr 1e-5: 0.00–0.53%, gains +0.047 to +0.056; lr 3e-5: gains only with 2 "
    + "mini-batches; lr 1e-4 and every ≥ 1% setting lost accuracy), so the fallback chose lr 1e-5 with 4 mini-batches "
    + "(0.01% clipped). Clip fractions and GPPO's preserved-gradient "
    + "share are reported per arm so a reader can see whether the compared variable acted at all."

let private rule = { Confidence = 0.95 }
let private seeds n = List.init n (fun i -> int64 (i + 1))

let private arm name overrides paper = { Name = name; Overrides = overrides; Paper = paper }

// ---- RL ------------------------------------------------------------------------------------------------------------

let objectives =
    { Name = "objectives"
      PaperRef = "Fig. 2"
      Claim = "GPPO beats GRPO + clip-higher and CISPO: higher and steadier held-out accuracy during math RL."
      PaperMetric = "AIME24 avg@32, peak over ~240 steps (read off the plot, ±0.002)"
      PaperTable =
        "| method | step 10 | step 60 | peak (step) | step 240 (final) |\n|---|---|---|---|---|\n"
        + "| GRPO + Clip-Higher | 0.731 | 0.790 | 0.801 (170) | 0.777 |\n"
        + "| CISPO | 0.745 | 0.789 | 0.812 (210) | 0.795 |\n"
        + "| GPPO | 0.753 | 0.792 | 0.817 (210) | 0.811 |\n\n"
        + "LCB V5 avg@4 peak: GPPO 0.602, clip-higher 0.595, CISPO 0.591. Grad norms similar (0.05–0.08)."
      Kind = RlFrom quickstartSft
      Base = rlRegime
      Arms =
        [ arm "gppo" [ "actor.policy_loss=gppo" ] (Some 0.817)
          arm "clip-higher" [ "actor.policy_loss=clip-higher" ] (Some 0.801)
          arm "cispo" [ "actor.policy_loss=cispo" ] (Some 0.812)
          arm "ppo" [ "actor.policy_loss=ppo"; "actor.clip_ratio_high=0.2" ] None ]
      Seeds = seeds 5
      Primary = heldOutFinal
      Secondary = [ heldOutPeak; heldOutGreedy; trainReward; clipFrac; clipFracLower; preservedShare ]
      Comparisons = [ { Treatment = "gppo"; Baseline = "clip-higher" }; { Treatment = "gppo"; Baseline = "cispo" } ]
      Rule = rule
      Regime = rlRegimeNote + " Symmetric PPO (0.2/0.2) is a fourth arm with no paper number."
      Curves = rlCurves @ [ { preservedShare with Label = "GPPO preserved-gradient share" } ]
      CellMinutes = 6.5
      SftMinutes = 5.5
      Prepare = []
      Runnable = Runnable }

/// Fig. 2 again where clipping acts: the rule's regime clips 0.01% of tokens, so this one is declared beside it.
let objectivesClipping =
    { objectives with
        Name = "objectives-clipping"
        Claim = objectives.Claim + " (In the clipping regime: ≥ 1% of tokens clipped.)"
        Base = rlClippingRegime
        Seeds = seeds 3
        Regime =
            "As objectives, but actor.lr 3e-5 with 16 mini-batches per rollout batch: the calibration's lowest-lr "
            + "setting that clipped ≥ 1% of tokens (1.48% on seed 0, where GPPO lost 0.133 held-out avg@4). "
            + "Declared before any objective comparison ran, because the rule's regime clips only 0.01%." }

let beta =
    { Name = "beta"
      PaperRef = "Sec. on β (CE-GPPO; no ablation in v1)"
      Claim = "A smaller β1 (the weight of the low-side clipped gradient) curbs entropy collapse, with β2 = 1."
      PaperMetric = "none: v1 has no β ablation; the authors later recommend β1 ∈ {0.25, 0.5}, β2 = 1"
      PaperTable =
        "The paper (v1) reports no β ablation. The authors' later material: a large low-side gradient (β1 = 1) can "
        + "collapse entropy on other models; they recommend β1 ∈ {0.25, 0.5}, β2 = 1, or the \"only high\" variant."
      Kind = RlFrom quickstartSft
      Base = rlClippingRegime @ [ "actor.policy_loss=gppo-general"; "actor.beta2=1" ]
      Arms =
        [ for b in [ "0"; "0.25"; "0.5"; "0.75"; "1" ] -> arm ("beta1-" + b) [ "actor.beta1=" + b ] None ]
      Seeds = seeds 3
      Primary = entropy
      Secondary = [ heldOutFinal; heldOutGreedy; clipFrac; clipFracLower; preservedShare ]
      Comparisons =
        [ { Treatment = "beta1-0.25"; Baseline = "beta1-1" }; { Treatment = "beta1-0.5"; Baseline = "beta1-1" } ]
      Rule = rule
      Regime =
        "As objectives-clipping: actor.lr 3e-5 with 16 mini-batches per rollout batch (1.48% of tokens clipped on "
        + "calibration seed 0). β1 only scales the gradient of tokens clipped on the low side, so in the rule's regime "
        + "(0.01% clipped) every arm would take nearly the same step; this regime was declared on 2026-12-01 before any "
        + "beta cell ran. The outcome is the policy entropy over the last 10 RL steps (higher = less collapse)."
      Curves = rlCurves
      CellMinutes = 6.5
      SftMinutes = 5.5
      Prepare = []
      Runnable = Runnable }

let sftAlpha =
    { Name = "sft-alpha"
      PaperRef = "Table 6"
      Claim = "An SFT (NLL) term on correct rollouts helps RL, best at α = 0.1; too large over-fits the few positives."
      PaperMetric = "AIME24 avg@32 after 100 RL steps (start 73.51)"
      PaperTable =
        "| setting | AIME2024 | AIME2025 |\n|---|---|---|\n| Starting checkpoint | 73.51 | 64.62 |\n"
        + "| α = 0 | 78.13 | 68.02 |\n| α = 0.05 | 77.81 | 69.48 |\n| α = 0.1 | 79.37 | 70.42 |\n| α = 0.2 | 78.44 | 69.58 |"
      Kind = RlFrom quickstartSft
      Base = rlRegime @ [ "actor.policy_loss=gppo" ]
      Arms =
        [ arm "alpha-0" [ "actor.sft_loss_coef=0" ] (Some 78.13)
          arm "alpha-0.05" [ "actor.sft_loss_coef=0.05" ] (Some 77.81)
          arm "alpha-0.1" [ "actor.sft_loss_coef=0.1" ] (Some 79.37)
          arm "alpha-0.2" [ "actor.sft_loss_coef=0.2" ] (Some 78.44) ]
      Seeds = seeds 3
      Primary = heldOutFinal
      Secondary = [ heldOutPeak; heldOutGreedy; trainReward; clipFrac; clipFracLower; preservedShare ]
      Comparisons =
        [ { Treatment = "alpha-0.1"; Baseline = "alpha-0" }
          { Treatment = "alpha-0.1"; Baseline = "alpha-0.05" }
          { Treatment = "alpha-0.1"; Baseline = "alpha-0.2" } ]
      Rule = rule
      Regime =
        rlRegimeNote
        + " GPPO in every arm (the paper does not say which objective Table 6 used). The quickstart itself uses α = 0.5: "
        + "a calibration run found that the tiny policy degraded with 0.1 at lr 5e-5."
      Curves = rlCurves
      CellMinutes = 6.5
      SftMinutes = 5.5
      Prepare = []
      Runnable = Runnable }

let zeroAdvFilter =
    { Name = "zero-adv-filter"
      PaperRef = "Fig. 5"
      Claim = "Dropping groups whose rollouts all have zero advantage (no refill) gives steadier, higher accuracy."
      PaperMetric = "AIME24 avg@32 peak, from an intermediate RL checkpoint (read off the plot)"
      PaperTable =
        "| arm | start | peak (step) | final | shape |\n|---|---|---|---|---|\n"
        + "| adv=0 filter | 0.778 | 0.810 (85) | 0.801 | fairly monotone |\n"
        + "| no filter | 0.775 | 0.800 (max of swings 0.768–0.800) | 0.794 | dips to 0.771 at step 95 |"
      Kind = RlFrom quickstartSft
      Base = rlRegime @ [ "actor.policy_loss=gppo"; "trainer.oversample=1" ]
      Arms =
        [ arm "filter" [ "algorithm.filter_zero_adv_groups=true" ] (Some 0.810)
          arm "no-filter" [ "algorithm.filter_zero_adv_groups=false" ] (Some 0.800) ]
      Seeds = seeds 3
      Primary = heldOutFinal
      Secondary = [ heldOutPeak; heldOutGreedy; trainReward; clipFrac; clipFracLower; preservedShare ]
      Comparisons = [ { Treatment = "filter"; Baseline = "no-filter" } ]
      Rule = rule
      Regime =
        rlRegimeNote
        + " No refill (trainer.oversample=1), as in the paper's ablation. The paper starts from an intermediate RL "
        + "checkpoint; here both arms start from SFT. Without the filter, all-correct groups still feed the SFT term."
      Curves = rlCurves
      CellMinutes = 6.5
      SftMinutes = 5.5
      Prepare = []
      Runnable = Runnable }

/// The synthetic stdin/stdout code task (`klear data synthetic-code`), written once per work folder: 2,000 training
/// problems (whose teacher responses are the SFT data) and 200 held-out ones, from different generator seeds.
let syntheticCodeData =
    [ for split, count, seed in [ "train", 2000, 11; "val", 200, 12 ] ->
          PrepareStep.write
              (sprintf "synthetic-code/%s.jsonl" split)
              [ "data"; "synthetic-code"; "--out"; "{out}"; "--count"; string count; "--seed"; string seed; "--split"; split ] ]

let private codeTask =
    [ "data.task=files"; "model.tokenizer=ascii"; "model.max_positions=1024"
      "data.train_files={data}/synthetic-code/train.jsonl"; "data.val_files={data}/synthetic-code/val.jsonl"
      "data.sft_files={data}/synthetic-code/train.jsonl"; "eval.max_new_tokens=400"; "eval.batch_size=50" ]

/// SFT on the teacher's programs: 600 steps × 32 (about 10 passes over the 2,000 problems), lr 2e-3.
let codeSft = { Name = "synthetic-code"; Overrides = codeTask @ [ "sft.steps=600"; "sft.batch_size=32"; "sft.save_every=200" ] }

let private codeRegime =
    rlRegime @ codeTask
    @ [ "actor.policy_loss=gppo"; "trainer.steps=40"; "trainer.prompts_per_step=16"; "trainer.eval_every=10"
        "trainer.save_every=10"; "rollout.max_new_tokens=400" ]

let private codeRegimeNote =
    "Synthetic stdin/stdout code task (7 function families, 8–16 tests each; the teacher's program is the SFT target), "
    + "rewards from the Python sandbox. SFT 600 × 32 on the 2,000 training problems, then RL 40 steps × 16 prompts × 8 "
    + "samples from that checkpoint, actor.lr 1e-5 with 4 mini-batches (the rule's regime), evaluation every 10 steps on 200 held-out "
    + "problems (avg@4 = mean pass-all-tests rate). The SFT size was checked before any RL cell of this task was "
    + "read: on seed 1 the tiny ASCII policy passes every test on 0.551 of held-out problems after SFT (avg@4; greedy "
    + "0.525, pass@4 0.645, mean response 350 characters), so it writes working programs and still has headroom."

let codeReward =
    { Name = "code-reward"
      PaperRef = "Fig. 3"
      Claim = "A soft code reward (pass ratio) beats all-or-nothing: higher peak, higher and less noisy training reward."
      PaperMetric = "LCB V5 avg@4 peak over 100 steps at 16K"
      PaperTable =
        "| reward | start | peak (step) | final | training reward |\n|---|---|---|---|---|\n"
        + "| soft (pass ratio) | 0.539 | 0.610 (95) | 0.588 | 0 → 0.35–0.46 |\n"
        + "| hard (all-or-nothing) | 0.539 | 0.592 (95) | 0.573 | noisy, −0.09 to 0.19 |"
      Kind = RlFrom codeSft
      Base = codeRegime
      Arms =
        [ arm "soft" [ "reward.code_mode=ratio" ] (Some 0.610)
          arm "hard" [ "reward.code_mode=hard" ] (Some 0.592) ]
      Seeds = seeds 3
      Primary = heldOutPeak
      Secondary = [ heldOutFinal; trainReward; afterSft; clipFrac; clipFracLower; preservedShare ]
      Comparisons = [ { Treatment = "soft"; Baseline = "hard" } ]
      Rule = rule
      Regime = codeRegimeNote + " The paper's training-reward claim is reported (training reward, last 10 steps), not tested."
      Curves = rlCurves
      // Measured on seed 1 at load 5–16 (helpers building beside two cells): SFT 47 min, an RL cell ~100 min with an
      // evaluation every 5 steps (generation ~900 tokens/s on one thread; an evaluation samples 200 × 5 responses of
      // ~350 tokens, ~6 min, so 9 of them were half the cell). Every 10 steps (5 evaluations): ~65 min at that load,
      // about half alone on two cores. No RL cell of this task had finished when the interval was changed.
      // Measured since (2 jobs, Zen 4, 2026-12-04/05): RL cells 57–75 min, SFT 30–45 min.
      CellMinutes = 65.0
      SftMinutes = 35.0
      Prepare = syntheticCodeData
      Runnable = Runnable }

/// The reference policy of the test-case filter: the code SFT at calibration seed 0 (never an experiment seed), one
/// fixed model for every seed and arm, as the paper's DeepSeek-R1 was.
let codeFilterReference = { Recipe = codeSft; Seed = 0L }

let private wrongTrain = "synthetic-code/train-wrong30.jsonl"
let private filteredTrain = "synthetic-code/train-wrong30-pass16.jsonl"

/// The first 600 training problems (same generator seed as train.jsonl, so problems the SFT saw; not all 2,000: the
/// filter costs ~8.7 s per problem at k 16 on one loaded core) with wrong tests in exactly 30% of them, and the
/// paper's filter over them: 16 samples per problem from the reference (eval sampling,
/// T 0.6, top-p 0.95, the cells' 400-token budget), keep a problem when ≥ 8 of the 16 pass every test. Under --quick:
/// 64 problems, 2 samples of 24 tokens and min 0 (the tiny quick policy solves nothing; min 0 keeps every row, so the
/// filtered arm has data and the plumbing is checked; the numbers mean nothing).
let codeTestFilterData =
    let generate count =
        [ "data"; "synthetic-code"; "--out"; "{out}"; "--count"; string count; "--seed"; "11"; "--split"; "train"; "--wrong-tests-share"; "0.3" ]
    let filter k min tokens =
        [ "data"; "filter-pass-rate"; "--model"; "{model}"; "--files"; "{data}/" + wrongTrain; "--k"; string k; "--min"; min
          "--out"; "{out}"; "--summary"; "{summary}"; "--seed"; "0"; "model.tokenizer=ascii"; sprintf "eval.max_new_tokens=%d" tokens
          "eval.batch_size=50"; "threads=1" ]
    [ { PrepareStep.write wrongTrain (generate 600) with QuickArguments = Some(generate 64) }
      { Output = filteredTrain
        Arguments = filter 16 "0.5" 400
        Needs = Some codeFilterReference
        Summary = true
        QuickArguments = Some(filter 2 "0" 24)
        Minutes = 30.0 // sampling only (the reference SFT is counted as an SFT run): 1,547 s on Zen 4 beside one job
        SubsetOf = Some wrongTrain } ]

let codeTestFilter =
    { Name = "code-test-filter"
      PaperRef = "Fig. 4"
      Claim = "Training only on code prompts a reference policy solves with pass@16 ≥ 0.5 gives higher, steadier accuracy."
      PaperMetric = "LCB V5 avg@4 peak over 100 steps at 16K"
      PaperTable =
        "| data | start | peak (step) | final |\n|---|---|---|---|\n| filtered (pass@16 ≥ 0.5) | 0.544 | 0.589 (95) | 0.580 |\n"
        + "| unfiltered | 0.526 | 0.577 (90) | 0.569 |"
      Kind = RlFrom codeSft
      Base = codeRegime
      Arms =
        [ arm "filtered" [ "data.train_files={data}/" + filteredTrain ] (Some 0.589)
          arm "unfiltered" [ "data.train_files={data}/" + wrongTrain ] (Some 0.577) ]
      Seeds = seeds 3
      Primary = heldOutPeak
      Secondary = [ heldOutFinal; trainReward; afterSft; clipFrac; clipFracLower; preservedShare ]
      Comparisons = [ { Treatment = "filtered"; Baseline = "unfiltered" } ]
      Rule = rule
      Regime =
        codeRegimeNote
        + " Training data: the first 600 of the 2,000 training problems with wrong tests in exactly 30% of them (180, chosen by the "
        + "seed; in each, a quarter of the tests expect the right answer ±1, so no program that follows the statement "
        + "passes them all); the held-out problems are clean. Reference policy: the code SFT checkpoint at calibration "
        + "seed 0, never an experiment seed, the same for every seed and arm. Filter (the paper's rule, fixed before "
        + "running): 16 samples per problem from the reference at T 0.6, top-p 0.95, up to 400 tokens; keep a problem "
        + "when ≥ 8 of them pass every test. filtered trains on the kept problems, unfiltered on all 600, both for "
        + "the same 40 RL steps × 16 prompts. The filter's rows kept and its precision and recall on the problems with "
        + "wrong tests are under Data preparation; if the reference solves few clean problems, the filtered arm "
        + "cycles through a small set, and the comparison then also tests data size."
      Curves = rlCurves
      // Measured on seed 1 at load 5–16 (helpers building beside two cells): SFT 47 min, an RL cell ~100 min with an
      // evaluation every 5 steps (generation ~900 tokens/s on one thread; an evaluation samples 200 × 5 responses of
      // ~350 tokens, ~6 min, so 9 of them were half the cell). Every 10 steps (5 evaluations): ~65 min at that load,
      // about half alone on two cores. No RL cell of this task had finished when the interval was changed.
      // Measured since (2 jobs, Zen 4, 2026-12-05): RL cells 46–56 min, SFT ~31 min.
      CellMinutes = 55.0
      SftMinutes = 35.0
      Prepare = syntheticCodeData @ codeTestFilterData
      Runnable = Runnable }

// ---- SFT -----------------------------------------------------------------------------------------------------------

/// The SFT experiments evaluate every arm on the same held-out problems: 3- and 4-operand chains.
let private sftBase = [ "data.rl_operands={3: 1, 4: 1}" ]
let private easy = "data.sft_operands={2: 1, 3: 1}"
let private hard = "data.sft_operands={4: 1, 5: 1}"
let private teacher name wrong = sprintf "{name: %s, wrong_share: %s, weight: 1}" name wrong
let private teachers (ts: string list) = "data.teachers=[" + String.concat ", " ts + "]"

let sftCorrectness =
    { Name = "sft-correctness"
      PaperRef = "Table 2"
      Claim = "On easy SFT data keep only correct traces; on hard data, keeping incorrect ones helps."
      PaperMetric = "AIME24 (k not stated)"
      PaperTable =
        "| Benchmark | Easy: Only True | Easy: Mixed | Hard: Only True | Hard: Mixed |\n|---|---|---|---|---|\n"
        + "| AIME 2024 | 45.00 | 40.22 | 45.63 | 47.29 |\n| AIME 2025 | 31.25 | 30.63 | 33.13 | 33.54 |\n"
        + "| LiveCodeBench V5 | 20.79 | 20.07 | 25.81 | 26.88 |"
      Kind = SftOnly
      Base = sftBase
      Arms =
        [ arm "easy-only-correct" [ easy; teachers [ teacher "exact" "0" ] ] (Some 45.00)
          arm "easy-mixed" [ easy; teachers [ teacher "slipping" "0.2" ] ] (Some 40.22)
          arm "hard-only-correct" [ hard; teachers [ teacher "exact" "0" ] ] (Some 45.63)
          arm "hard-mixed" [ hard; teachers [ teacher "slipping" "0.4" ] ] (Some 47.29) ]
      Seeds = seeds 3
      Primary = afterSft
      Secondary = [ afterSftGreedy; sftValLoss ]
      Comparisons =
        [ { Treatment = "easy-only-correct"; Baseline = "easy-mixed" }
          { Treatment = "hard-mixed"; Baseline = "hard-only-correct" } ]
      Rule = rule
      Regime =
        "SFT only (450 steps × 128, the quickstart's schedule), evaluated on 400 held-out 3- and 4-operand chains. "
        + "Easy = 2–3 operands, hard = 4–5. Mixed traces come from a teacher that slips once in 20% (easy) or 40% "
        + "(hard) of traces, carrying the error to a wrong answer; only-correct = the same teacher with no slips at "
        + "the same example count. Slips do not depend on the problem, so this equals filtering the mixed traces "
        + "for correctness at equal data size (the paper's subsets are balanced)."
      Curves = sftCurves
      CellMinutes = 5.7
      SftMinutes = 0.0
      Prepare = []
      Runnable = Runnable }

/// Six sources ranked by quality (the share of traces with one slip), best first.
let sourceRanking = [ "0.02"; "0.05"; "0.1"; "0.15"; "0.2"; "0.3" ]

let sftSources =
    { Name = "sft-sources"
      PaperRef = "Tables 3–5"
      Claim = "A fixed number of SFT examples from the top 1–2 sources beats mixing in more, lower-ranked sources."
      PaperMetric = "AIME24 (Table 4, math sources, 31,600 examples per arm)"
      PaperTable =
        "| Benchmark | Top1 | Top2 | Top4 | Top6 | Top8 | Top10 |\n|---|---|---|---|---|---|---|\n"
        + "| AIME 2024 | 40.83 | 37.71 | 37.29 | 33.96 | 29.38 | 30.42 |\n"
        + "| AIME 2025 | 36.04 | 31.86 | 29.79 | 29.17 | 28.96 | 30.63 |\n\n"
        + "Table 3 (teacher): R1-0528 73.54 > R1-0120 67.71 > QwQ-32B 62.71 on AIME24."
      Kind = SftOnly
      Base = sftBase @ [ "data.sft_operands={2: 1, 3: 2}" ]
      Arms =
        [ for k, paper in [ 1, 40.83; 2, 37.71; 4, 37.29; 6, 33.96 ] ->
              let ts = sourceRanking |> List.take k |> List.mapi (fun i w -> teacher (sprintf "rank%d" (i + 1)) w)
              arm (sprintf "top%d" k) [ teachers ts ] (Some paper) ]
      Seeds = seeds 3
      Primary = afterSft
      Secondary = [ afterSftGreedy; sftValLoss ]
      Comparisons =
        [ { Treatment = "top1"; Baseline = "top4" }
          { Treatment = "top1"; Baseline = "top6" }
          { Treatment = "top2"; Baseline = "top6" } ]
      Rule = rule
      Regime =
        "SFT only (450 steps × 128), evaluated on 400 held-out 3- and 4-operand chains. Six teachers ranked by slip "
        + "share (2%, 5%, 10%, 15%, 20%, 30%); Top-K draws the same number of examples evenly from the K best. The "
        + "built-in teachers differ only in error share, not in style, so this tests quality dilution; the "
        + "diversity that might make more sources help is not modelled."
      Curves = sftCurves
      CellMinutes = 5.7
      SftMinutes = 0.0
      Prepare = []
      Runnable = Runnable }

// ---- calibration -----------------------------------------------------------------------------------------------------

/// The regime rule made runnable: on calibration seed 0 only, GPPO at three learning rates × two mini-batch counts;
/// pick the highest lr whose held-out gain over SFT is still positive and whose pg_clipfrac is a few percent or more,
/// then set `rlRegime` to it. It has no comparisons, so no verdict: it chooses, it does not test.
let regime =
    { Name = "regime"
      PaperRef = "calibration (no paper claim)"
      Claim = "Chooses the RL regime: the highest actor.lr at which GPPO still gains, with clipping active."
      PaperMetric = "none"
      PaperTable = "No paper numbers: the paper's own RL uses lr 1e-6 (math) on an 8B model."
      Kind = RlFrom quickstartSft
      Base = rlRegime @ [ "actor.policy_loss=gppo" ]
      Arms =
        [ for lr, mbs in [ "1e-5", [ "2"; "4"; "8"; "16" ]; "3e-5", [ "2"; "4"; "8"; "16" ]; "1e-4", [ "2"; "4" ] ] do
              for mb in mbs -> arm (sprintf "lr%s-mb%s" lr mb) [ "actor.lr=" + lr; "actor.mini_batches=" + mb ] None ]
      Seeds = [ 0L ]
      Primary = metric "held-out avg@4 gain over SFT" "eval-rl" "val/avg@4" GainOverStart
      Secondary = [ heldOutFinal; clipFrac; clipFracLower; preservedShare; entropy ]
      Comparisons = []
      Rule = rule
      Regime =
        "Seed 0 is never one of the experiments' seeds, so choosing here cannot tune to a comparison. The grid first "
        + "had mini-batches {2, 4} only; at lr 1e-5 and 3e-5 those clipped < 0.3% of tokens, so 8 and 16 mini-batches "
        + "were added at those learning rates (more updates per rollout batch, the issue's suggested lever) before the "
        + "rule was applied. Only GPPO runs here: no objective is compared."
      Curves = rlCurves
      CellMinutes = 6.5
      SftMinutes = 5.5
      Prepare = []
      Runnable = Runnable }

/// The paper's ablations, in the order `list` shows them.
let all = [ objectives; objectivesClipping; beta; sftAlpha; zeroAdvFilter; codeReward; codeTestFilter; sftCorrectness; sftSources ]

/// Calibration first, then the ablations: what `list`, `run all` and `report` cover.
let everything = regime :: all

let tryFind name = everything |> List.tryFind (fun e -> e.Name = name)

// ---- quick -----------------------------------------------------------------------------------------------------------

/// Tiny sizes for a plumbing check: every cell runs in seconds; the numbers mean nothing.
let quickOverrides =
    [ "model.layers=1"; "model.hidden=32"; "model.heads=2"; "model.kv_heads=2"
      "sft.steps=4"; "sft.batch_size=16"; "sft.warmup_steps=1"; "sft.val_examples=8"; "sft.save_every=2"
      "trainer.steps=2"; "trainer.prompts_per_step=4"; "trainer.eval_every=1"; "trainer.save_every=1"
      "rollout.n=4"; "rollout.max_new_tokens=24"; "data.eval_problems=16"; "eval.max_new_tokens=24"; "eval.batch_size=16" ]

/// One seed, the tiny sizes above after the experiment's own settings (arms still differ in what they vary).
let quick (e: Experiment) =
    let recipe (r: SftRecipe) = { r with Overrides = r.Overrides @ quickOverrides }
    let step (p: PrepareStep) =
        { p with
            Arguments = defaultArg p.QuickArguments p.Arguments
            QuickArguments = None
            Needs = p.Needs |> Option.map (fun n -> { n with Recipe = recipe n.Recipe }) }
    { e with
        Seeds = List.truncate 1 e.Seeds
        Base = e.Base @ quickOverrides
        Kind =
            match e.Kind with
            | RlFrom r -> RlFrom(recipe r)
            | SftOnly -> SftOnly
        Prepare = List.map step e.Prepare }

/// n seeds counted from the experiment's first (1, 2, ... for the ablations; 0, 1, ... for calibration).
let withSeeds n (e: Experiment) =
    let first = List.head e.Seeds
    { e with Seeds = List.init n (fun i -> first + int64 i) }
