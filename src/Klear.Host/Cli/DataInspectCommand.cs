using System.CommandLine;
using System.Text.Encodings.Web;
using System.Text.Json;
using System.Text.Json.Nodes;
using Klear.Host.Data;
using Klear.Host.Rewards;
using Klear.Host.Rewards.Code;

namespace Klear.Host.Cli;

/// <summary>
/// <c>klear data inspect FILE [--rows N] [--json]</c>: a verl dataset (parquet or JSON Lines) as Klear reads it: the
/// row count, the columns with their types and verl roles, and the first rows; with <c>--json</c>, one object a row
/// (<c>data_source</c>, <c>prompt</c>, <c>ground_truth</c>, <c>extra_info</c>) and nothing else. Every row is read and
/// checked first, code tests included, so a malformed row fails naming file, row and field before anything is printed.
/// </summary>
public sealed class DataInspectCommand : KlearCommand
{
    const int DefaultRows = 5;

    readonly Argument<string> _file = new("file") { Description = "a verl dataset: .parquet or .jsonl" };
    readonly Option<long?> _rows = CliOption.OptionalLong("--rows", $"rows to show [default: {DefaultRows}; with --json: all]");
    readonly Option<bool> _json = CliOption.Flag("--json", "print one JSON object per row {data_source, prompt, ground_truth, extra_info}, nothing else");

    public DataInspectCommand() : base("data inspect", "show a verl dataset (parquet or JSONL) as Klear reads it: row count, schema, first rows")
    {
        Add(_file);
        Add(_rows);
        Add(_json);
    }

    static readonly JsonSerializerOptions Readable = new() { Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping };

    protected override bool UsesTorch => false;

    protected override int Run(ParseResult parsed)
    {
        var path = parsed.GetRequiredValue(_file);
        var json = parsed.GetValue(_json);
        var rowsOption = parsed.GetValue(_rows);
        if (rowsOption is < 0) throw new UsageException($"--rows: expected a count >= 0, got {rowsOption}");

        var loaded = VerlDataset.LoadWithText(path);
        var rows = loaded.Select(r => r.Row).ToList();
        var tests = rows.Select(CheckCodeTests).ToList();
        var shown = (int)Math.Min(rowsOption ?? (json ? rows.Count : DefaultRows), rows.Count);

        if (json)
        {
            foreach (var row in rows.Take(shown)) Console.Out.WriteLine(JsonSerializer.Serialize(RowJson(row), Readable));
            return 0;
        }
        var columns = Path.GetExtension(path).Equals(".parquet", StringComparison.OrdinalIgnoreCase)
            ? VerlSchema.OfParquet(path)
            : VerlSchema.OfJsonRows(loaded.Select(r => (JsonObject)JsonNode.Parse(r.Text!)!));
        var format = Path.GetExtension(path).Equals(".parquet", StringComparison.OrdinalIgnoreCase) ? "parquet" : "JSON Lines";
        Console.Out.WriteLine($"{path}: {rows.Count} row{(rows.Count == 1 ? "" : "s")} ({format})");
        WriteSchema(columns, rows);
        if (shown == 0) return 0;
        Console.Out.WriteLine();
        Console.Out.WriteLine($"first {shown} of {rows.Count} rows:");
        for (int i = 0; i < shown; i++) WriteRow(rows[i], tests[i]);
        return 0;
    }

    /// <summary>The object <c>--json</c> prints for a row: what a trainer takes from it.</summary>
    public static JsonObject RowJson(VerlRow row) => new()
    {
        ["data_source"] = row.DataSource,
        ["prompt"] = new JsonArray(row.Prompt.Select(m => (JsonNode)new JsonObject { ["role"] = m.Role, ["content"] = m.Content }).ToArray()),
        ["ground_truth"] = row.GroundTruth,
        ["extra_info"] = row.ExtraInfo?.DeepClone(),
    };

    /// <summary>A code row's tests, parsed as the code reward will parse them (null for other sources).</summary>
    static CodeTests? CheckCodeTests(VerlRow row)
    {
        if (!RewardRegistry.CodeDataSources.Contains(row.DataSource)) return null;
        try { return CodeTests.Parse(row.GroundTruth); }
        catch (FormatException e)
        {
            var origin = row.Origin[..row.Origin.LastIndexOf(':')];
            throw new DataFormatException(origin, VerlDataset.RowNumber(row), "reward_model.ground_truth", e.Message);
        }
    }

    static void WriteSchema(IReadOnlyList<VerlColumn> columns, List<VerlRow> rows)
    {
        Console.Out.WriteLine("columns:");
        int width = columns.Max(c => c.Name.Length);
        foreach (var c in columns)
        {
            Console.Out.WriteLine($"  {c.Name.PadRight(width)}  {c.Type}");
            Console.Out.WriteLine($"  {"".PadRight(width)}  {c.Role}");
        }
        var sources = rows.GroupBy(r => r.DataSource).OrderBy(g => g.Key, StringComparer.Ordinal).Select(g => $"{g.Key} ({g.Count()})");
        Console.Out.WriteLine($"data sources: {string.Join(", ", sources)}");
    }

    static void WriteRow(VerlRow row, CodeTests? tests)
    {
        Console.Out.WriteLine();
        Console.Out.WriteLine($"row {VerlDataset.RowNumber(row)}: data_source {row.DataSource}{(row.Ability is { } a ? $", ability {a}" : "")}");
        foreach (var m in row.Prompt) Console.Out.WriteLine($"  {m.Role + ":",-14}{Short(m.Content)}");
        Console.Out.WriteLine($"  {"ground_truth:",-14}{Short(row.GroundTruth)}");
        if (tests is not null)
        {
            var kind = tests.Cases.All(c => !c.IsFunctional) ? "stdin/stdout" : "functional";
            var subset = tests.Cases.Count < tests.Available ? $", {tests.Cases.Count} used (max_test_cases)" : "";
            var timeout = tests.Timeout is { } t ? $", timeout {t.TotalSeconds:0.###} s" : "";
            Console.Out.WriteLine($"  {"",-14}code tests: {tests.Available} {kind}{subset}{timeout}");
        }
        Console.Out.WriteLine($"  {"extra_info:",-14}{(row.ExtraInfo is null ? "null" : Short(row.ExtraInfo.ToJsonString(Readable)))}");
    }

    /// <summary>One line: newlines, tabs and carriage returns written as \n, \t and \r, cut at 120 characters.</summary>
    static string Short(string text)
    {
        var line = text.Replace("\n", "\\n").Replace("\t", "\\t").Replace("\r", "\\r");
        return line.Length <= 120 ? line : $"{line[..117]}... ({text.Length} chars)";
    }
}
