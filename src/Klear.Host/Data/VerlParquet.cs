using System.Collections;
using System.Text.Json.Nodes;
using Parquet.Schema;
using Parquet.Serialization;

namespace Klear.Host.Data;

/// <summary>
/// verl's parquet layout: <c>data_source</c> string, <c>prompt</c> list of {role, content}, <c>ability</c> string,
/// <c>reward_model</c> {ground_truth, style}, <c>extra_info</c> struct. The struct's fields differ between datasets, so
/// rows are read untyped, turned into the JSON object a JSON Lines file would hold, and validated by the same code
/// (<see cref="VerlDataset.Parse"/>): both formats give the same rows and the same errors.
/// </summary>
public static class VerlParquet
{
    public static IReadOnlyList<VerlRow> Load(string path)
    {
        IList<Dictionary<string, object>> rows;
        try
        {
            using var stream = File.OpenRead(path);
            rows = ParquetSerializer.DeserializeUntypedAsync(stream).GetAwaiter().GetResult().Data;
        }
        catch (Exception e) when (e is not FileNotFoundException)
        {
            throw new DataFormatException(path, 0, "(schema)", $"not a readable parquet file: {e.Message}");
        }
        return rows.Select((r, i) => VerlDataset.Parse((JsonObject)ToJson(r)!, path, i + 1)).ToList();
    }

    /// <summary>A value from the untyped reader as JSON: structs and maps become objects, lists arrays.</summary>
    static JsonNode? ToJson(object? value) => value switch
    {
        null => null,
        string s => JsonValue.Create(s),
        ReadOnlyMemory<char> m => JsonValue.Create(m.ToString()),
        bool b => JsonValue.Create(b),
        byte[] bytes => JsonValue.Create(Convert.ToBase64String(bytes)),
        DateTime t => JsonValue.Create(t),
        DateTimeOffset t => JsonValue.Create(t),
        IDictionary<string, object?> d => new JsonObject(d.Select(kv => KeyValuePair.Create(kv.Key, ToJson(kv.Value)))),
        IDictionary d => new JsonObject(d.Keys.Cast<object>().Select(k => KeyValuePair.Create(k.ToString() ?? "", ToJson(d[k])))),
        IEnumerable e => new JsonArray(e.Cast<object?>().Select(ToJson).ToArray()),
        IConvertible c when c.GetTypeCode() is TypeCode.Single or TypeCode.Double or TypeCode.Decimal =>
            JsonValue.Create(c.ToDouble(System.Globalization.CultureInfo.InvariantCulture)),
        IConvertible c when c.GetTypeCode() is TypeCode.UInt64 => JsonValue.Create(c.ToUInt64(null)),
        IConvertible c when c.GetTypeCode() >= TypeCode.SByte && c.GetTypeCode() <= TypeCode.Int64 => JsonValue.Create(c.ToInt64(null)),
        _ => JsonValue.Create(value.ToString()),
    };

    /// <summary>
    /// Writes rows in verl's layout. <c>extra_info</c> becomes a struct of the scalar fields the rows carry (a field that
    /// is a string in one row and a number in another, or a nested value, is written as JSON text).
    /// </summary>
    public static void Save(string path, IEnumerable<VerlRow> rows)
    {
        var list = rows.ToList();
        var extraFields = ExtraInfoFields(list);
        var fields = new List<Field>
        {
            new DataField<string>("data_source"),
            new ListField("prompt", new StructField("element", new DataField<string>("role"), new DataField<string>("content"))),
            new DataField<string>("ability"),
            new StructField("reward_model", new DataField<string>("ground_truth"), new DataField<string>("style")),
        };
        if (extraFields.Count > 0)
            fields.Add(new StructField("extra_info", extraFields.Select(f => (Field)new DataField(f.Key, f.Value, isNullable: true)).ToArray()));
        var data = list.Select(r =>
        {
            var row = new Dictionary<string, object?>
            {
                ["data_source"] = r.DataSource,
                ["prompt"] = r.Prompt.Select(m => (IDictionary<string, object?>)new Dictionary<string, object?> { ["role"] = m.Role, ["content"] = m.Content }).ToList(),
                ["ability"] = r.Ability,
                ["reward_model"] = new Dictionary<string, object?> { ["ground_truth"] = r.GroundTruth, ["style"] = "rule" },
            };
            if (extraFields.Count > 0)
                row["extra_info"] = extraFields.ToDictionary(f => f.Key, f => ScalarAs(r.ExtraInfo?[f.Key], f.Value));
            return (IDictionary<string, object?>)row;
        }).ToList();
        using var stream = File.Create(path);
        ParquetSerializer.SerializeUntypedAsync(data!, new ParquetSchema(fields), stream).GetAwaiter().GetResult();
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
