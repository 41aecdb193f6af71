using System.CommandLine;
using System.Text.Json;
using Klear.Algorithms;

namespace Klear.Host.Cli;

/// <summary><c>loss inspect</c>: per-token loss and autograd d(loss)/d(logp) of an objective, as one JSON array; with
/// <c>--total</c>, the aggregated loss of the whole batch and its gradient per token, as one JSON object.</summary>
public sealed class LossInspectCommand : KlearCommand
{
    readonly ObjectiveOptions _objective;
    readonly Option<double[]> _ratio = CliOption.Numbers("--ratio", "importance ratios r = exp(logp - old logp), one per token");
    readonly Option<double[]> _advantage = CliOption.Numbers("--advantage", "advantages A, one per ratio");
    readonly Option<int[]?> _seq = CliOption.Integers("--seq", "sequence id per token; consecutive tokens with equal ids form one sequence [default: one sequence]");
    readonly Option<string> _agg = CliOption.Text("--agg", "aggregation of --total: " + string.Join(" | ", Aggregation.Names) + " (seq-mean-token-sum-norm divides by the longest sequence's length)", "token-mean");
    readonly Option<bool> _total = CliOption.Flag("--total", "print {\"loss\": L, \"grad\": [dL/dlogp per token]} of the aggregated loss instead of per-token values");

    public LossInspectCommand() : base("loss inspect", "loss and d(loss)/d(logp) per (ratio, advantage) token, or of the aggregated batch, as JSON")
    {
        _objective = new ObjectiveOptions(this);
        foreach (var option in new Option[] { _ratio, _advantage, _seq, _agg, _total }) Add(option);
    }

    protected override int Run(ParseResult parsed)
    {
        var objective = _objective.Read(parsed);
        var ratios = parsed.GetRequiredValue(_ratio);
        var advantages = parsed.GetRequiredValue(_advantage);
        if (ratios.Length != advantages.Length)
            throw new UsageException($"--ratio has {ratios.Length} values but --advantage has {advantages.Length}; give one advantage per ratio");
        foreach (var r in ratios)
            if (!(r > 0) || !double.IsFinite(r)) throw new UsageException($"--ratio: every ratio must be a finite number > 0, got {r}");
        foreach (var a in advantages)
            if (!double.IsFinite(a)) throw new UsageException($"--advantage: every advantage must be finite, got {a}");
        var seq = parsed.GetValue(_seq) is { Length: > 0 } given ? given : new int[ratios.Length];
        if (seq.Length != ratios.Length)
            throw new UsageException($"--seq has {seq.Length} ids but --ratio has {ratios.Length} values; give one sequence id per token");
        var pairs = ratios.Zip(advantages).Select(p => (p.First, p.Second)).ToArray();

        using var stdout = Console.OpenStandardOutput();
        using (var json = new Utf8JsonWriter(stdout, new JsonWriterOptions { Indented = false }))
        {
            if (parsed.GetValue(_total)) WriteTotal(json, objective, Mode(parsed, seq), pairs, seq);
            else WriteTokens(json, objective.InspectTokens(pairs.Select(p => (p.Item1, p.Item2)), seq));
        }
        stdout.WriteByte((byte)'\n');
        return 0;
    }

    /// <summary>The --agg mode; seq-mean-token-sum-norm takes the longest sequence's token count as its constant.</summary>
    Aggregation Mode(ParseResult parsed, int[] seq)
    {
        int longest = 1, run = 1;
        for (int k = 1; k < seq.Length; k++) { run = seq[k] == seq[k - 1] ? run + 1 : 1; longest = Math.Max(longest, run); }
        return Aggregation.Parse(parsed.GetValue(_agg) ?? "token-mean", longest).OrThrow(e => new UsageException("--agg: " + e));
    }

    static void WriteTotal(Utf8JsonWriter json, PolicyObjective objective, Aggregation mode, (double, double)[] pairs, int[] seq)
    {
        InspectTotal total;
        try { total = objective.InspectTotal(mode, pairs.Select(p => (p.Item1, p.Item2)), seq); }
        catch (ArgumentException e) when (e.ParamName == "advantage") { throw new UsageException("--advantage: " + e.Message.Split(" (Parameter")[0]); }
        json.WriteStartObject();
        json.WriteNumber("loss", total.Loss);
        json.WriteStartArray("grad");
        foreach (var g in total.Grad) json.WriteNumberValue(g);
        json.WriteEndArray();
        json.WriteEndObject();
    }

    static void WriteTokens(Utf8JsonWriter json, IReadOnlyList<TokenGradient> results)
    {
        json.WriteStartArray();
        foreach (var t in results)
        {
            json.WriteStartObject();
            json.WriteNumber("ratio", t.Ratio);
            json.WriteNumber("advantage", t.Advantage);
            json.WriteNumber("loss", t.Loss);
            json.WriteNumber("grad", t.Grad);
            json.WriteEndObject();
        }
        json.WriteEndArray();
    }
}
