using System.Text;
using System.Text.Encodings.Web;
using System.Text.Json;
using System.Text.Json.Nodes;
using Klear.Host.Rewards.Code;

namespace Klear.Host.Data;

/// <summary>
/// A CPU-scale code task for the soft-vs-hard reward ablation: read n and n integers from stdin, print one function of
/// them drawn from a small family. Everything is a pure function of the seed, so a data set can be rebuilt instead of
/// shipped. The teacher writes <c>&lt;think&gt;</c> reasoning and a python block, optionally with a realistic bug
/// (ignoring numbers past the fifth) that passes only the tests with short inputs, so soft rewards see partial credit.
/// A known share of problems can be given wrong tests (<see cref="WithWrongTests"/>), the defect that makes the paper
/// filter code prompts by a reference policy's pass rate.
/// </summary>
public static class SyntheticCodeTask
{
    public const string DataSource = "synthetic-code";
    public const int MinTests = 8, MaxTests = 16;

    sealed record Family(string Name, Func<int, string> Task, Func<Random, int> Parameter,
                         Func<long[], int, long> Compute, Func<int, string> Expression, string Reasoning);

    static readonly Family[] Families =
    [
        new("sum", _ => "the sum of the numbers", _ => 0, (xs, _) => xs.Sum(), _ => "sum(xs)",
            "Add all the numbers; Python integers do not overflow."),
        new("max-minus-min", _ => "the largest number minus the smallest number", _ => 0,
            (xs, _) => xs.Max() - xs.Min(), _ => "max(xs) - min(xs)", "The spread is max minus min; n >= 1, so both exist."),
        new("count-greater", k => $"how many of the numbers are strictly greater than {k}", r => r.Next(-20, 21),
            (xs, k) => xs.Count(x => x > k), k => $"sum(1 for x in xs if x > {k})", "Count with a strict comparison."),
        new("sum-squares-mod", k => $"the sum of the squares of the numbers, modulo {k}", r => r.Next(7, 98),
            (xs, k) => xs.Sum(x => x * x) % k, k => $"sum(x * x for x in xs) % {k}", "Squares are non-negative, so the modulo is too."),
        new("alternating-sum", _ => "the first number minus the second plus the third minus the fourth, and so on",
            _ => 0, (xs, _) => xs.Select((x, i) => i % 2 == 0 ? x : -x).Sum(),
            _ => "sum(x if i % 2 == 0 else -x for i, x in enumerate(xs))", "Even positions add, odd positions subtract."),
        new("count-divisible", k => $"how many of the numbers are divisible by {k}", r => r.Next(2, 8),
            (xs, k) => xs.Count(x => x % k == 0), k => $"sum(1 for x in xs if x % {k} == 0)",
            "Zero and negative multiples count too; Python's % gives 0 for them."),
        new("max-prefix-sum", _ => "the largest sum of a non-empty prefix of the numbers (the first one, the first two, ...)",
            _ => 0, (xs, _) => Enumerable.Range(1, xs.Length).Max(n => xs.Take(n).Sum()),
            _ => "max(sum(xs[:i]) for i in range(1, len(xs) + 1))", "Try every prefix length from 1 to n and keep the best."),
    ];

    // Rows stay readable (<think>, ```, quotes unescaped); they are data files, never embedded in HTML.
    internal static readonly JsonSerializerOptions RowJson = new() { Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping };

    public static IReadOnlyList<string> FamilyNames => Families.Select(f => f.Name).ToList();

    /// <summary>
    /// Problems <paramref name="count"/> long; problem i depends only on (seed, i), except which problems get wrong
    /// tests: exactly round(<paramref name="wrongTestsShare"/> × count) of them (<see cref="WrongTestProblems"/>).
    /// </summary>
    public static IReadOnlyList<SyntheticCodeProblem> Generate(int seed, int count, double wrongTestsShare = 0)
    {
        var wrong = WrongTestProblems(seed, count, wrongTestsShare);
        return Enumerable.Range(0, count).Select(i => wrong.Contains(i) ? WithWrongTests(Problem(seed, i)) : Problem(seed, i)).ToList();
    }

    /// <summary>The indices of the problems that get wrong tests: the first round(share × count) of a seeded
    /// shuffle of 0..count-1 (midpoints round up), so the share is exact for every seed.</summary>
    public static IReadOnlySet<int> WrongTestProblems(int seed, int count, double share)
    {
        if (!(share >= 0 && share <= 1)) throw new ArgumentOutOfRangeException(nameof(share), share, "the share of problems with wrong tests must be in [0, 1]");
        var wrong = (int)Math.Round(share * count, MidpointRounding.AwayFromZero);
        var order = Enumerable.Range(0, count).ToArray();
        SeedSequence.Random(seed, "synthetic-code/wrong-tests", count).Shuffle(order);
        return order.Take(wrong).ToHashSet();
    }

    /// <summary>
    /// The problem with wrong tests, as scraped test sets have them: a quarter of its tests (at least one, chosen
    /// by a stream of (seed, index)) expect the right answer plus or minus one, the mark of a reference solution with
    /// an off-by-one bug on some inputs or of a hand-edited expected output. The statement and the other tests stay
    /// right, so the teacher's correct program fails exactly those tests, and a program that follows the statement
    /// can pass all tests of the problem on no input.
    /// </summary>
    public static SyntheticCodeProblem WithWrongTests(SyntheticCodeProblem p)
    {
        var rng = SeedSequence.Random(p.Seed, "synthetic-code/wrong-test", p.Index);
        var order = Enumerable.Range(0, p.Tests.Count).ToArray();
        rng.Shuffle(order);
        var wrong = order.Take(Math.Max(1, p.Tests.Count / 4)).Order().ToList();
        var tests = p.Tests.ToList();
        foreach (var i in wrong)
            tests[i] = tests[i] with { ExpectedStdout = (long.Parse(tests[i].ExpectedStdout!) + (rng.Next(2) == 0 ? -1 : 1)).ToString() };
        return p with { Tests = tests, WrongTests = wrong };
    }

    public static SyntheticCodeProblem Problem(int seed, int index)
    {
        // One stream per problem, so adding problems never changes earlier ones.
        var rng = new Random(unchecked(seed * 1_000_003 + index));
        var family = Families[rng.Next(Families.Length)];
        var k = family.Parameter(rng);
        var tests = new List<CodeTestCase>();
        var nTests = rng.Next(MinTests, MaxTests + 1);
        for (int t = 0; t < nTests; t++)
        {
            var xs = Enumerable.Range(0, rng.Next(1, 13)).Select(_ => (long)rng.Next(-50, 51)).ToArray();
            tests.Add(CodeTestCase.StdinStdout($"{xs.Length}\n{string.Join(' ', xs)}\n", family.Compute(xs, k).ToString()));
        }
        var statement =
            $"Read an integer n (1 <= n <= 12) from the first line of standard input and n integers between -50 and 50 " +
            $"from the second line. Print {family.Task(k)}.";
        return new SyntheticCodeProblem(index, seed, family.Name, k, statement, tests, []);
    }

    /// <summary>The user message of the chat prompt.</summary>
    public static string Prompt(SyntheticCodeProblem p) =>
        p.Statement + "\n\nWrite a Python 3 program that solves this. Reason inside <think> </think> first, then give the " +
        "whole program in one ```python block.";

    /// <summary>A reference response; with <paramref name="mistake"/> the program drops numbers past the fifth. It
    /// follows the statement, so wrong tests do not change it.</summary>
    public static string TeacherResponse(SyntheticCodeProblem p, bool mistake = false)
    {
        var family = Families.Single(f => f.Name == p.Family);
        var code = new StringBuilder()
            .AppendLine("import sys")
            .AppendLine()
            .AppendLine("data = sys.stdin.read().split()")
            .AppendLine("n = int(data[0])")
            .AppendLine("xs = [int(v) for v in data[1:1 + n]]");
        if (mistake) code.AppendLine("xs = xs[:5]");
        code.AppendLine($"print({family.Expression(p.Parameter)})");
        var reasoning =
            $"<think>\nThe input is n and then n integers. I need {family.Task(p.Parameter)}. {family.Reasoning}" +
            (mistake ? " The lists look short, so I will only look at the first five numbers." : "") +
            "\nRead all tokens at once so line breaks do not matter.\n</think>\n\n";
        return reasoning + "```python\n" + code + "```\n";
    }

    /// <summary>A verl-format row: prompt (chat messages), data_source, ability, reward_model, extra_info.</summary>
    public static JsonObject ToVerlRow(SyntheticCodeProblem p, string split) => new()
    {
        ["data_source"] = DataSource,
        ["prompt"] = new JsonArray(new JsonObject { ["role"] = "user", ["content"] = Prompt(p) }),
        ["ability"] = "code",
        ["reward_model"] = new JsonObject { ["style"] = "rule", ["ground_truth"] = p.GroundTruth() },
        ["extra_info"] = new JsonObject
        {
            ["split"] = split, ["index"] = p.Index, ["seed"] = p.Seed, ["family"] = p.Family, ["parameter"] = p.Parameter,
            // Ground truth about the ground truth, so a filter's precision and recall on wrong tests can be measured.
            ["wrong_tests"] = p.HasWrongTests,
            ["wrong_test_indices"] = new JsonArray(p.WrongTests.Select(i => (JsonNode)JsonValue.Create(i)).ToArray()),
            // The teacher's response, so an export doubles as SFT data (data.sft_files reads extra_info.response).
            ["response"] = TeacherResponse(p),
        },
    };

    /// <summary>Writes one JSON row per line (the JSONL that verl-style loaders read).</summary>
    public static void WriteJsonl(string path, IEnumerable<SyntheticCodeProblem> problems, string split)
    {
        using var w = new StreamWriter(path, false, new UTF8Encoding(false));
        foreach (var p in problems) w.WriteLine(ToVerlRow(p, split).ToJsonString(RowJson));
    }
}
