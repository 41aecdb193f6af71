using System.Text.RegularExpressions;
using Klear.Host.Rewards.Sandbox;

namespace Klear.Host.Rewards.Code;

/// <summary>
/// The code reward: extract the program, run it on every test in the sandbox pool, and score the verdicts (soft =
/// pass ratio, or its signed form; hard = all-or-nothing). Correct = every test passed.
/// </summary>
public sealed partial class CodeReward(SandboxPool pool, CodeRewardMode mode = CodeRewardMode.PassRatio, int subsetSeed = 0)
    : IRewardFunction
{
    public string Name => "code";
    public CodeRewardMode Mode => mode;

    public async Task<RewardResult> ScoreAsync(string response, string groundTruth, CancellationToken ct = default)
    {
        // Ground truth comes from our data, not the policy: a malformed one is a data bug and must surface.
        var tests = CodeTests.Parse(groundTruth, subsetSeed);
        var (program, formatError) = CodeExtraction.Extract(response);
        if (program is null) return new RewardResult(Score(mode, 0.0, false), false, formatError);
        var evaluation = await EvaluateAsync(pool, program, tests, ct);
        return new RewardResult(Score(mode, evaluation.PassRatio, evaluation.AllPassed), evaluation.AllPassed, null,
            new Dictionary<string, double>
            {
                ["pass_ratio"] = evaluation.PassRatio,
                ["tests_passed"] = evaluation.Passed,
                ["tests_total"] = evaluation.Total,
            },
            Behaviour(evaluation));
    }

    public static double Score(CodeRewardMode mode, double passRatio, bool allPassed) => mode switch
    {
        CodeRewardMode.PassRatio => passRatio,
        CodeRewardMode.SignedPassRatio => 2 * passRatio - 1,
        CodeRewardMode.AllOrNothing => allPassed ? 1.0 : 0.0,
        _ => throw new ArgumentOutOfRangeException(nameof(mode)),
    };

    /// <summary>Runs a program on every test; result i belongs to test i.</summary>
    public static async Task<CodeEvaluation> EvaluateAsync(SandboxPool pool, string program, CodeTests tests,
                                                         CancellationToken ct = default)
    {
        var requests = tests.Cases.Select(c => c.IsFunctional
            ? new SandboxRequest(program + "\n\n" + c.AssertSnippet + "\n", "", tests.Timeout)
            : new SandboxRequest(program, c.Stdin, tests.Timeout));
        var runs = await pool.RunAllAsync(requests, ct);
        return new CodeEvaluation(runs.Select((run, i) => new CodeTestResult(i, Verdict(tests.Cases[i], run), tests.Cases[i], run)).ToList());
    }

    static CodeTestStatus Verdict(CodeTestCase test, SandboxResult run)
    {
        if (run.TimedOut) return CodeTestStatus.Timeout;
        if (run.Termination != SandboxTermination.Exited) return CodeTestStatus.Error;
        if (test.IsFunctional)
            return run.ExitCode == 0 ? CodeTestStatus.Passed
                : AssertionFailed().IsMatch(run.Stderr) ? CodeTestStatus.Failed : CodeTestStatus.Error;
        if (run.ExitCode != 0) return CodeTestStatus.Error;
        return Normalize(run.Stdout) == Normalize(test.ExpectedStdout!) ? CodeTestStatus.Passed : CodeTestStatus.Failed;
    }

    /// <summary>
    /// The program's observable behaviour, for majority voting: per test its stripped stdout (stdin/stdout tests) or
    /// its verdict (assert-style tests, whose only output is pass or fail). Programs that behave the same vote together,
    /// however differently they are written — the clustering AlphaCode used, here on the task's own test inputs.
    /// </summary>
    static string Behaviour(CodeEvaluation evaluation) =>
        string.Join("\u001f", evaluation.Results.Select(r =>
            r.Status is CodeTestStatus.Timeout or CodeTestStatus.Error ? r.Status.ToString()
            : r.Test.IsFunctional ? r.Status.ToString()
            : "out:" + Normalize(r.Run.Stdout)));

    static string Normalize(string s) => s.Replace("\r\n", "\n").Trim();

    [GeneratedRegex(@"^AssertionError\b", RegexOptions.Multiline)]
    private static partial Regex AssertionFailed();
}
