using System.CommandLine;
using System.Text.Encodings.Web;
using System.Text.Json;
using Klear.Verifier;

namespace Klear.Host.Cli;

/// <summary>
/// <c>klear verify math</c>: checks answers against gold answers with the F# Math-Verify port, one pair
/// (<c>--gold G --answer A</c>) or a JSON-lines file (<c>--jsonl FILE</c>) whose lines carry <c>gold</c>, <c>answer</c>
/// and optionally Math-Verify's per-check settings and an <c>expected</c> verdict.
/// </summary>
public sealed class VerifyMathCommand : KlearCommand
{
    static readonly VerifyOptions Defaults = VerifyOptions.Defaults;

    readonly Option<string> _jsonl = CliOption.Text("--jsonl", "JSON Lines file: gold, answer, optional per-check settings and expected verdict");
    readonly Option<string> _gold = CliOption.Text("--gold", "the gold answer (with --answer)");
    readonly Option<string> _answer = CliOption.Text("--answer", "the answer to check (with --gold)");
    readonly Option<bool> _explain = CliOption.Flag("--explain", "print what was extracted from gold and answer, on stderr");
    readonly Option<string> _extraction = CliOption.Text("--extraction", "comma-separated extraction targets: latex, expr [default: Math-Verify's]");
    readonly Option<int> _boxedPriority = CliOption.Int("--boxed-match-priority", "priority of \\boxed{} matches (0: with \"final answer is\", -1: off)", Defaults.BoxedMatchPriority);
    readonly Option<int> _floatRounding = CliOption.Int("--float-rounding", "decimal places both sides are rounded to when one is a decimal literal", Defaults.FloatRounding);
    readonly Option<bool> _strict = CliOption.Flag("--strict", "variables match by name (false: by position, so f(x) equals f(y))", Defaults.Strict);
    readonly Option<bool> _setRelation = CliOption.Flag("--allow-set-relation-comp", "also read an answer's relation (x > 1) as a set against a gold set", Defaults.AllowSetRelationComp);
    readonly Option<bool> _afterThink = CliOption.Flag("--after-think", "read only the text after the answer's last </think>", Defaults.AfterThink);
    readonly Option<bool> _boxBareGold = CliOption.Flag("--box-bare-gold", "read a gold answer without \\boxed{} as if boxed", Defaults.BoxBareGold);

    public VerifyMathCommand() : base("verify math", "check answers against gold answers (Math-Verify rules); --jsonl FILE or --gold G --answer A")
    {
        foreach (var option in new Option[] { _jsonl, _gold, _answer, _explain, _extraction, _boxedPriority, _floatRounding, _strict,
                     _setRelation, _afterThink, _boxBareGold })
            Add(option);
    }

    protected override bool UsesTorch => false;

    protected override int Run(ParseResult parsed)
    {
        var jsonl = parsed.GetValue(_jsonl);
        var gold = parsed.GetValue(_gold);
        var answer = parsed.GetValue(_answer);
        var explain = parsed.GetValue(_explain);
        var baseOptions = OptionsFrom(parsed);

        if (jsonl is not null)
        {
            if (gold is not null || answer is not null) throw new UsageException("give either --jsonl or --gold/--answer, not both");
            if (!File.Exists(jsonl)) throw new UsageException($"no such file: {jsonl}");
            return RunFile(jsonl, baseOptions);
        }
        if (gold is null || answer is null) throw new UsageException("need --jsonl FILE, or both --gold and --answer");
        if (explain)
        {
            foreach (var line in MathVerifier.explainGold(baseOptions, gold)) Console.Error.WriteLine($"gold   {line}");
            foreach (var line in MathVerifier.explain(baseOptions, answer)) Console.Error.WriteLine($"answer {line}");
        }
        var ok = MathVerifier.verify(baseOptions, gold, answer);
        Console.WriteLine(Verdict(ok));
        return 0;
    }

    VerifyOptions OptionsFrom(ParseResult parsed)
    {
        IEnumerable<Extraction> extraction = parsed.GetValue(_extraction) is { } e
            ? ParseExtraction(e.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries), m => new UsageException($"--extraction: {m}"))
            : Defaults.Extraction;
        return VerifyOptions.Create(extraction, parsed.GetValue(_boxedPriority), parsed.GetValue(_floatRounding), parsed.GetValue(_strict),
            parsed.GetValue(_setRelation), parsed.GetValue(_afterThink), parsed.GetValue(_boxBareGold));
    }

    static IReadOnlyList<Extraction> ParseExtraction(IEnumerable<string> names, Func<string, Exception> error)
    {
        var list = new List<Extraction>();
        foreach (var n in names)
            list.Add(n switch
            {
                "latex" => Extraction.LatexExtraction,
                "expr" => Extraction.ExprExtraction,
                _ => throw error($"unknown extraction '{n}' (expected latex or expr)"),
            });
        if (list.Count == 0) throw error("empty extraction list");
        return list;
    }

    // Messages quote the input; keep them readable (no \u0027 for quotes).
    static readonly JsonSerializerOptions Readable = new() { Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping };

    static string Verdict(bool ok) => ok ? "{\"equivalent\": true}" : "{\"equivalent\": false}";

    sealed class LineError(string message) : Exception(message);

    static (string gold, string answer, VerifyOptions options, bool? expected) ReadLine(string line, VerifyOptions defaults)
    {
        using var doc = JsonDocument.Parse(line);
        var root = doc.RootElement;
        if (root.ValueKind != JsonValueKind.Object) throw new LineError("line is not a JSON object");
        string Str(string name) =>
            root.TryGetProperty(name, out var v) && v.ValueKind == JsonValueKind.String
                ? v.GetString()! : throw new LineError($"field '{name}' is missing or not a string");
        int Int(string name, int fallback) =>
            !root.TryGetProperty(name, out var v) || v.ValueKind == JsonValueKind.Null ? fallback
            : v.ValueKind == JsonValueKind.Number && v.TryGetInt32(out var i) ? i
            : throw new LineError($"'{name}' must be an integer");
        bool Bool(string name, bool fallback) =>
            !root.TryGetProperty(name, out var v) || v.ValueKind == JsonValueKind.Null ? fallback
            : v.ValueKind is JsonValueKind.True or JsonValueKind.False ? v.GetBoolean()
            : throw new LineError($"'{name}' must be true or false");

        IEnumerable<Extraction> extraction = defaults.Extraction;
        if (root.TryGetProperty("extraction", out var ex) && ex.ValueKind != JsonValueKind.Null)
        {
            if (ex.ValueKind != JsonValueKind.Array) throw new LineError("'extraction' must be a list of \"latex\"/\"expr\"");
            extraction = ParseExtraction(ex.EnumerateArray().Select(x => x.ValueKind == JsonValueKind.String ? x.GetString()! : "?"),
                m => new LineError($"extraction: {m}"));
        }
        var options = VerifyOptions.Create(
            extraction,
            Int("boxed_match_priority", defaults.BoxedMatchPriority),
            Int("float_rounding", defaults.FloatRounding),
            Bool("strict", defaults.Strict),
            Bool("allow_set_relation_comp", defaults.AllowSetRelationComp),
            defaults.AfterThink,
            defaults.BoxBareGold);
        bool? expected = root.TryGetProperty("expected", out var e) && e.ValueKind is JsonValueKind.True or JsonValueKind.False
            ? e.GetBoolean() : null;
        return (Str("gold"), Str("answer"), options, expected);
    }

    static int RunFile(string path, VerifyOptions defaults)
    {
        int lines = 0, equivalent = 0, errors = 0, judged = 0, agree = 0;
        var disagreements = new List<int>();
        foreach (var line in File.ReadLines(path))
        {
            lines++;
            try
            {
                var (gold, answer, options, expected) = ReadLine(line, defaults);
                var ok = MathVerifier.verify(options, gold, answer);
                if (ok) equivalent++;
                if (expected is { } exp)
                {
                    judged++;
                    if (exp == ok) agree++; else disagreements.Add(lines);
                }
                Console.WriteLine(Verdict(ok));
            }
            catch (Exception ex) when (ex is JsonException or LineError)
            {
                errors++;
                Console.Error.WriteLine($"line {lines}: {ex.Message}");
                Console.WriteLine($"{{\"equivalent\": false, \"error\": {JsonSerializer.Serialize(ex.Message, Readable)}}}");
            }
        }
        Console.Error.WriteLine($"{lines} lines: {equivalent} equivalent, {lines - equivalent - errors} not equivalent, {errors} malformed");
        if (judged > 0)
        {
            Console.Error.WriteLine($"agreement with expected: {agree}/{judged} ({100.0 * agree / judged:F1}%)");
            if (disagreements.Count > 0) Console.Error.WriteLine($"disagreeing lines: {string.Join(", ", disagreements)}");
        }
        return 0;
    }
}
