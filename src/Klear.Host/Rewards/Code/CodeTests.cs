using System.Text.Json;

namespace Klear.Host.Rewards.Code;

/// <summary>
/// The tests of one problem, parsed from <c>reward_model.ground_truth</c>: a JSON object (or a string holding one, as
/// verl stores it) with <c>inputs</c>/<c>outputs</c> (stdin/stdout pairs) or <c>functional</c> (assert snippets),
/// optional <c>timeout</c> (seconds per test) and <c>max_test_cases</c> (a subset drawn with a seed, so the same
/// problem is always judged on the same tests; the released code draws it unseeded).
/// </summary>
public sealed record CodeTests(IReadOnlyList<CodeTestCase> Cases, TimeSpan? Timeout, int Available)
{
    /// <exception cref="FormatException">Malformed ground truth; the message names the field.</exception>
    public static CodeTests Parse(string groundTruth, int seed = 0)
    {
        JsonDocument doc;
        try { doc = JsonDocument.Parse(groundTruth); }
        catch (JsonException e) { throw new FormatException($"ground truth is not JSON: {e.Message}"); }
        using (doc) return Parse(doc.RootElement, seed);
    }

    public static CodeTests Parse(JsonElement root, int seed = 0)
    {
        if (root.ValueKind == JsonValueKind.String) return Parse(root.GetString()!, seed);
        if (root.ValueKind != JsonValueKind.Object) throw new FormatException($"ground truth must be a JSON object, got {root.ValueKind}");
        if (root.TryGetProperty("fn_name", out _))
            throw new FormatException("call-based tests (fn_name) are not supported; use inputs/outputs or functional");

        var hasIo = root.TryGetProperty("inputs", out var inputs) | root.TryGetProperty("outputs", out var outputs);
        var hasFunctional = root.TryGetProperty("functional", out var functional);
        if (hasIo && hasFunctional) throw new FormatException("give either inputs/outputs or functional, not both");
        if (!hasIo && !hasFunctional) throw new FormatException("ground truth has neither inputs/outputs nor functional");

        List<CodeTestCase> cases;
        if (hasIo)
        {
            var ins = Strings(inputs, "inputs");
            var outs = Strings(outputs, "outputs");
            if (ins.Count != outs.Count) throw new FormatException($"{ins.Count} inputs but {outs.Count} outputs");
            cases = ins.Zip(outs, CodeTestCase.StdinStdout).ToList();
        }
        else
        {
            var snippets = functional.ValueKind == JsonValueKind.String ? [functional.GetString()!] : Strings(functional, "functional");
            cases = snippets.Select(CodeTestCase.Functional).ToList();
        }
        if (cases.Count == 0) throw new FormatException("ground truth has zero tests");

        TimeSpan? timeout = null;
        if (root.TryGetProperty("timeout", out var t))
        {
            if (t.ValueKind != JsonValueKind.Number || !t.TryGetDouble(out var seconds) || seconds <= 0 || seconds > 600)
                throw new FormatException($"timeout must be a number of seconds in (0, 600], got {t.GetRawText()}");
            timeout = TimeSpan.FromSeconds(seconds);
        }
        var available = cases.Count;
        if (root.TryGetProperty("max_test_cases", out var m) && m.ValueKind != JsonValueKind.Null)
        {
            if (m.ValueKind != JsonValueKind.Number || !m.TryGetInt32(out var max) || max < 1)
                throw new FormatException($"max_test_cases must be a positive integer, got {m.GetRawText()}");
            cases = Subset(cases, max, seed);
        }
        return new CodeTests(cases, timeout, available);
    }

    /// <summary>k tests chosen by a seeded partial shuffle, kept in their original order.</summary>
    static List<CodeTestCase> Subset(List<CodeTestCase> cases, int k, int seed)
    {
        if (k >= cases.Count) return cases;
        // System.Random with a seed is the same sequence on every platform and run.
        var rng = new Random(seed);
        var idx = Enumerable.Range(0, cases.Count).ToArray();
        for (int i = 0; i < k; i++)
        {
            var j = rng.Next(i, idx.Length);
            (idx[i], idx[j]) = (idx[j], idx[i]);
        }
        return idx.Take(k).Order().Select(i => cases[i]).ToList();
    }

    static List<string> Strings(JsonElement array, string field)
    {
        if (array.ValueKind != JsonValueKind.Array) throw new FormatException($"{field} must be an array, got {array.ValueKind}");
        var result = new List<string>();
        foreach (var (e, i) in array.EnumerateArray().Select((e, i) => (e, i)))
            result.Add(e.ValueKind == JsonValueKind.String ? e.GetString()!
                : throw new FormatException($"{field}[{i}] must be a string, got {e.ValueKind}"));
        return result;
    }
}
