using Klear.Host.Tokenization;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace Klear.Host.Data;

/// <summary>Reads and writes verl-format datasets: JSON Lines (one row object per line; blank lines skipped) or parquet,
/// chosen by the file extension.</summary>
public static class VerlDataset
{
    public static IReadOnlyList<VerlRow> Load(string path) => LoadWithText(path).Select(r => r.Row).ToList();

    /// <summary>The rows with, for JSON Lines, each row's line as written (so a filter can pass rows on byte for
    /// byte); parquet rows have no text.</summary>
    public static IReadOnlyList<(VerlRow Row, string? Text)> LoadWithText(string path)
    {
        if (!File.Exists(path)) throw new FileNotFoundException($"dataset not found: {path}", path);
        var ext = Path.GetExtension(path).ToLowerInvariant();
        if (ext == ".parquet") return VerlParquet.Load(path).Select(r => (r, (string?)null)).ToList();
        if (ext is not (".jsonl" or ".json"))
            throw new DataFormatException(path, 0, "(file)", "expected a .jsonl or .parquet dataset");
        var rows = new List<(VerlRow, string?)>();
        int lineNo = 0;
        foreach (var line in File.ReadLines(path))
        {
            lineNo++;
            if (string.IsNullOrWhiteSpace(line)) continue;
            JsonNode? node;
            try { node = JsonNode.Parse(line); }
            catch (JsonException e) { throw new DataFormatException(path, lineNo, "(line)", $"not valid JSON: {e.Message}"); }
            rows.Add((Parse(node as JsonObject ?? throw new DataFormatException(path, lineNo, "(line)", "not a JSON object"), path, lineNo), line));
        }
        return rows;
    }

    /// <summary>The 1-based row number in its file, read from the row's origin ("file:row").</summary>
    public static int RowNumber(VerlRow row) =>
        int.TryParse(row.Origin[(row.Origin.LastIndexOf(':') + 1)..], out var n) ? n : 0;

    public static VerlRow Parse(JsonObject o, string file, int row)
    {
        string RequiredString(JsonNode? n, string field) =>
            n is JsonValue v && v.TryGetValue<string>(out var s) ? s
            : throw new DataFormatException(file, row, field, n is null ? "missing" : $"expected a string, got {n.GetValueKind()}");

        var dataSource = RequiredString(o["data_source"], "data_source");
        var prompt = o["prompt"] switch
        {
            JsonArray a => a.Select((m, i) =>
            {
                var msg = m as JsonObject ?? throw new DataFormatException(file, row, $"prompt[{i}]", "expected an object {role, content}");
                return new ChatMessage(RequiredString(msg["role"], $"prompt[{i}].role"), RequiredString(msg["content"], $"prompt[{i}].content"));
            }).ToList(),
            JsonValue v when v.TryGetValue<string>(out var s) => [new ChatMessage("user", s)],
            null => throw new DataFormatException(file, row, "prompt", "missing"),
            var n => throw new DataFormatException(file, row, "prompt", $"expected a list of messages, got {n.GetValueKind()}"),
        };
        if (prompt.Count == 0) throw new DataFormatException(file, row, "prompt", "empty message list");
        var rewardModel = o["reward_model"] as JsonObject
            ?? throw new DataFormatException(file, row, "reward_model", o["reward_model"] is null ? "missing" : "expected an object");
        var groundTruth = rewardModel["ground_truth"] switch
        {
            null => throw new DataFormatException(file, row, "reward_model.ground_truth", "missing"),
            JsonValue v when v.TryGetValue<string>(out var s) => s,
            var n => n.ToJsonString(),   // numbers, lists and code-test objects are kept as JSON text
        };
        var ability = o["ability"] is JsonValue av && av.TryGetValue<string>(out var ab) ? ab : null;
        var extra = o["extra_info"] switch
        {
            null => null,
            JsonObject e => (JsonObject)e.DeepClone(),
            var n => throw new DataFormatException(file, row, "extra_info", $"expected an object, got {n.GetValueKind()}"),
        };
        return new VerlRow(dataSource, prompt, groundTruth, ability, extra, $"{file}:{row}");
    }

    /// <summary>Writes rows as parquet when the path ends in .parquet, else as JSON Lines.</summary>
    public static void Save(string path, IEnumerable<VerlRow> rows)
    {
        if (Path.GetExtension(path).Equals(".parquet", StringComparison.OrdinalIgnoreCase)) VerlParquet.Save(path, rows);
        else SaveJsonl(path, rows);
    }

    public static void SaveJsonl(string path, IEnumerable<VerlRow> rows)
    {
        var dir = Path.GetDirectoryName(Path.GetFullPath(path));
        if (dir is not null) Directory.CreateDirectory(dir);
        using var w = new StreamWriter(path);
        foreach (var r in rows) w.WriteLine(r.ToJson().ToJsonString());
    }
}
