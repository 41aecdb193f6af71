using System.CommandLine;
using System.Text.Encodings.Web;
using System.Text.Json;
using System.Text.Json.Nodes;
using Klear.Host.Rewards.Code;
using Klear.Host.Rewards.Sandbox;

namespace Klear.Host.Cli;

/// <summary><c>klear sandbox run --code FILE.py --tests TESTS.json</c>: judges one program, prints one JSON object.</summary>
public sealed class SandboxRunCommand : KlearCommand
{
    readonly Option<string> _code = CliOption.Text("--code", "the Python program", required: true);
    readonly Option<string> _tests = CliOption.Text("--tests", "ground truth as JSON: inputs/outputs (stdin/stdout) or functional asserts", required: true);
    readonly Option<string> _reward = CliOption.Choice("--reward", "score: pass ratio, signed pass ratio, or all-or-nothing", "ratio", "ratio", "signed", "hard");
    readonly Option<string> _mode = CliOption.Choice("--mode", "warm: a long-lived sandbox forks each run; cold: a fresh sandbox per run", "warm", "warm", "cold");
    readonly Option<int> _workers = CliOption.Int("--workers", "tests run concurrently", Environment.ProcessorCount);
    readonly Option<int> _seed = CliOption.Int("--seed", "seed of the subset drawn when the tests set max_test_cases", 0);

    public SandboxRunCommand() : base("sandbox run", "run a Python program against ground-truth tests in the sandbox; prints JSON")
    {
        foreach (var option in new Option[] { _code, _tests, _reward, _mode, _workers, _seed }) Add(option);
    }

    protected override bool UsesTorch => false;

    protected override int Run(ParseResult parsed)
    {
        var codePath = parsed.GetRequiredValue(_code);
        var testsPath = parsed.GetRequiredValue(_tests);
        var mode = parsed.GetRequiredValue(_reward) switch
        {
            "signed" => CodeRewardMode.SignedPassRatio,
            "hard" => CodeRewardMode.AllOrNothing,
            _ => CodeRewardMode.PassRatio,
        };
        var sandboxMode = SandboxModeNames.Parse(parsed.GetRequiredValue(_mode)) ?? SandboxMode.Warm;
        var workers = parsed.GetValue(_workers);
        var seed = parsed.GetValue(_seed);

        if (!File.Exists(codePath)) throw new UsageException($"--code: no such file '{codePath}'");
        if (!File.Exists(testsPath)) throw new UsageException($"--tests: no such file '{testsPath}'");
        var program = File.ReadAllText(codePath);
        CodeTests tests;
        try { tests = CodeTests.Parse(File.ReadAllText(testsPath), seed); }
        catch (FormatException e) { throw new UsageException($"--tests {testsPath}: {e.Message}"); }

        using var cancel = new CancellationTokenSource();
        Console.CancelKeyPress += (_, e) => { e.Cancel = true; cancel.Cancel(); };
        PythonSandbox sandbox;
        try { sandbox = new PythonSandbox(mode: sandboxMode); }
        catch (SandboxUnavailableException e) { Console.Error.WriteLine($"klear {FullName}: {e.Message}"); return 1; }
        using (sandbox)
        {
            var pool = new SandboxPool(sandbox, workers, cancel.Token);
            try
            {
                var evaluation = CodeReward.EvaluateAsync(pool, program, tests, cancel.Token).GetAwaiter().GetResult();
                Console.WriteLine(ToJson(evaluation, mode).ToJsonString(new JsonSerializerOptions
                    { WriteIndented = true, Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping }));
                return 0;
            }
            catch (OperationCanceledException) { Console.Error.WriteLine($"klear {FullName}: cancelled"); return 130; }
            finally { pool.DisposeAsync().AsTask().GetAwaiter().GetResult(); }
        }
    }

    static JsonObject ToJson(CodeEvaluation evaluation, CodeRewardMode mode) => new()
    {
        ["passed"] = evaluation.Passed,
        ["total"] = evaluation.Total,
        ["reward"] = CodeReward.Score(mode, evaluation.PassRatio, evaluation.AllPassed),
        ["correct"] = evaluation.AllPassed,
        ["results"] = new JsonArray(evaluation.Results.Select(r => (JsonNode)new JsonObject
        {
            ["status"] = r.Status.ToString().ToLowerInvariant(),
            ["exit_code"] = r.Run.ExitCode,
            ["termination"] = r.Run.Termination.ToString(),
            ["time_ms"] = Math.Round(r.Run.Elapsed.TotalMilliseconds, 1),
            ["stdout"] = Clip(r.Run.Stdout),
            ["expected"] = r.Test.ExpectedStdout is { } e ? Clip(e) : null,
            ["stderr"] = Clip(r.Run.Stderr, tail: true),
        }).ToArray()),
    };

    // Enough to see what went wrong without echoing a flood back.
    static string Clip(string s, bool tail = false, int max = 400) =>
        s.Length <= max ? s : tail ? "…" + s[^max..] : s[..max] + "…";
}
