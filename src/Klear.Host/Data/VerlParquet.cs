using System.Text.Json.Nodes;
using Apache.Arrow;
using ParquetSharp;
using ParquetSharp.Arrow;

namespace Klear.Host.Data;

/// <summary>
/// verl's parquet layout: <c>data_source</c> string, <c>prompt</c> list of {role, content}, <c>ability</c> string,
/// <c>reward_model</c> {ground_truth, style}, <c>extra_info</c> struct. The struct's fields differ between datasets, so
/// rows are read through Arrow's schema, turned into the JSON object a JSON Lines file would hold, and validated by the
/// same code (<see cref="VerlDataset.Parse"/>): both formats give the same rows and the same errors.
/// </summary>
/// <remarks>
/// ParquetSharp wraps Arrow's C++ parquet library, the one pyarrow (and so pandas, datasets and verl) writes with.
/// Parquet.Net's untyped reader, used before, read an empty list and a null struct member as absent members.
/// </remarks>
public static class VerlParquet
{
    public static IReadOnlyList<VerlRow> Load(string path)
    {
        var rows = new List<VerlRow>();
        try
        {
            using var reader = new FileReader(path);
            using var batches = reader.GetRecordBatchReader();
            while (batches.ReadNextRecordBatchAsync().AsTask().GetAwaiter().GetResult() is { } batch)
                using (batch)
                    foreach (var row in ArrowJson.Rows(batch, path, rows.Count + 1))
                        rows.Add(VerlDataset.Parse(row, path, rows.Count + 1));
        }
        catch (Exception e) when (e is not (FileNotFoundException or DataFormatException))
        {
            throw new DataFormatException(path, 0, "(schema)", $"not a readable parquet file: {e.Message}");
        }
        return rows;
    }

    /// <summary>
    /// Writes rows in verl's layout, snappy-compressed as pyarrow writes. <c>extra_info</c> becomes a struct of the
    /// scalar fields the rows carry (a field that is a string in one row and a number in another, or a nested value, is
    /// written as JSON text); a row without extra_info gets a null struct.
    /// </summary>
    public static void Save(string path, IEnumerable<VerlRow> rows)
    {
        var list = rows.ToList();
        var columns = new List<(string Name, IArrowArray Array)>
        {
            ("data_source", ArrowColumns.Strings(list.Select(r => r.DataSource))),
            ("prompt", Prompts(list)),
            ("ability", ArrowColumns.Strings(list.Select(r => r.Ability))),
            ("reward_model", ArrowColumns.Struct(list.Count, null,
                ("ground_truth", ArrowColumns.Strings(list.Select(r => r.GroundTruth))),
                ("style", ArrowColumns.Strings(list.Select(_ => "rule"))))),
        };
        var extraFields = ExtraInfoFields(list);
        if (extraFields.Count > 0)
            columns.Add(("extra_info", ArrowColumns.Struct(list.Count, list.Select(r => r.ExtraInfo is not null).ToList(),
                extraFields.Select(f => (f.Key, ArrowColumns.Scalars(f.Value, list.Select(r => ScalarAs(r.ExtraInfo?[f.Key], f.Value))))).ToArray())));
        var schema = new Schema(columns.Select(c => new Field(c.Name, c.Array.Data.DataType, nullable: true)), null);
        using var batch = new RecordBatch(schema, columns.Select(c => c.Array), list.Count);
        using var properties = new WriterPropertiesBuilder().Compression(Compression.Snappy).Build();
        using var writer = new FileWriter(path, schema, properties);
        writer.WriteRecordBatch(batch);
        writer.Close();
    }

    static ListArray Prompts(List<VerlRow> rows)
    {
        var messages = rows.SelectMany(r => r.Prompt).ToList();
        var structs = ArrowColumns.Struct(messages.Count, null,
            ("role", ArrowColumns.Strings(messages.Select(m => m.Role))),
            ("content", ArrowColumns.Strings(messages.Select(m => m.Content))));
        return ArrowColumns.List(structs, rows.Select(r => r.Prompt.Count));
    }

    /// <summary>extra_info field name → column type (long, double, bool or string), in first-seen order.</summary>
    static List<KeyValuePair<string, Type>> ExtraInfoFields(IEnumerable<VerlRow> rows)
    {
        var order = new List<string>();
        var types = new Dictionary<string, Type>();
        foreach (var r in rows)
        {
            if (r.ExtraInfo is null) continue;
            foreach (var (key, node) in r.ExtraInfo)
            {
                if (node is null) continue;
                var t = node.GetValueKind() switch
                {
                    System.Text.Json.JsonValueKind.Number when long.TryParse(node.ToJsonString(), out _) => typeof(long),
                    System.Text.Json.JsonValueKind.Number => typeof(double),
                    System.Text.Json.JsonValueKind.True or System.Text.Json.JsonValueKind.False => typeof(bool),
                    _ => typeof(string),
                };
                if (!types.TryGetValue(key, out var seen)) order.Add(key);
                types[key] = seen is null || seen == t ? t : Widen(seen, t);
            }
        }
        return order.Select(k => KeyValuePair.Create(k, types[k])).ToList();

        // long and double meet in double; any other mix is kept as text.
        static Type Widen(Type a, Type b) => a != typeof(string) && b != typeof(string) && a != typeof(bool) && b != typeof(bool)
            ? typeof(double) : typeof(string);
    }

    static object? ScalarAs(JsonNode? node, Type type)
    {
        if (node is null) return null;
        // Through JSON text: an in-memory JsonValue converts only to the CLR type it was created from.
        if (type == typeof(long)) return System.Text.Json.JsonSerializer.Deserialize<long>(node);
        if (type == typeof(double)) return System.Text.Json.JsonSerializer.Deserialize<double>(node);
        if (type == typeof(bool)) return System.Text.Json.JsonSerializer.Deserialize<bool>(node);
        return node is JsonValue v && v.TryGetValue<string>(out var s) ? s : node.ToJsonString();
    }
}
