using System.Text.Encodings.Web;
using System.Text.Json;
using System.Text.Json.Nodes;
using Klear.Host.Rewards.Code;
using Klear.Host.Rewards.Sandbox;

namespace Klear.Host.Cli;

/// <summary><c>klear sandbox run --code FILE.py --tests TESTS.json</c>: judges one program, prints one JSON object.</summary>
public sealed class SandboxRunCommand : ICommand
{
    public string Name => "sandbox run";
    public string Summary => "run a Python program against ground-truth tests in the sandbox (--mode warm|cold); prints JSON";

    public int Run(CliArgs args)
    {
        var codePath = args.RequiredString("code");
        var testsPath = args.RequiredString("tests");
        var mode = args.String("reward") switch
        {
            null or "ratio" => CodeRewardMode.PassRatio,
            "signed" => CodeRewardMode.SignedPassRatio,
            "hard" => CodeRewardMode.AllOrNothing,
            var other => throw new UsageException($"--reward: expected ratio, signed or hard, got '{other}'"),
        };
        var sandboxMode = args.String("mode") is { } m
            ? SandboxModeNames.Parse(m) ?? throw new UsageException($"--mode: expected {SandboxModeNames.Valid}, got '{m}'")
            : SandboxMode.Warm;
        var workers = args.Int("workers", Environment.ProcessorCount);
        var seed = args.Int("seed", 0);
        args.RejectUnknown();

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
        catch (SandboxUnavailableException e) { Console.Error.WriteLine($"klear {Name}: {e.Message}"); return 1; }
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
            catch (OperationCanceledException) { Console.Error.WriteLine($"klear {Name}: cancelled"); return 130; }
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
