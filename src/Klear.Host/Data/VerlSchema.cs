using System.Text.Json.Nodes;
using Apache.Arrow.Types;
using ParquetSharp.Arrow;

namespace Klear.Host.Data;

/// <summary>
/// The columns of a verl dataset, for <c>klear data inspect</c>: a parquet file's Arrow schema as it is stored, or, for
/// JSON Lines (which has no schema), the JSON kinds its rows hold, merged over every row (<c>string|null</c> where
/// rows differ; <c>missing</c> where some rows lack the member).
/// </summary>
public static class VerlSchema
{
    public static IReadOnlyList<VerlColumn> OfParquet(string path)
    {
        try
        {
            using var reader = new FileReader(path);
            return reader.Schema.FieldsList.Select(f => new VerlColumn(f.Name, ArrowType(f.DataType), VerlColumn.RoleOf(f.Name))).ToList();
        }
        catch (Exception e) when (e is not FileNotFoundException)
        {
            throw new DataFormatException(path, 0, "(schema)", $"not a readable parquet file: {e.Message}");
        }
    }

    /// <summary>Arrow's type in the words pyarrow prints (<c>list&lt;struct&lt;role: string, content: string&gt;&gt;</c>).</summary>
    public static string ArrowType(IArrowType type) => type switch
    {
        StringType => "string",
        LargeStringType => "large_string",
        BooleanType => "bool",
        FloatType => "float",
        DoubleType => "double",
        TimestampType t => $"timestamp[{t.Unit.ToString().ToLowerInvariant()}{(t.Timezone is { } tz ? $", tz={tz}" : "")}]",
        DictionaryType d => $"dictionary<values={ArrowType(d.ValueType)}, indices={ArrowType(d.IndexType)}>",
        MapType m => $"map<{ArrowType(m.KeyField.DataType)}, {ArrowType(m.ValueField.DataType)}>",
        ListType l => $"list<{ArrowType(l.ValueDataType)}>",
        LargeListType l => $"large_list<{ArrowType(l.ValueDataType)}>",
        StructType s => $"struct<{string.Join(", ", s.Fields.Select(f => $"{f.Name}: {ArrowType(f.DataType)}"))}>",
        _ => type.Name,   // int64, uint32, binary, date32, ...: Arrow's own names
    };

    /// <summary>The top-level members of the rows, in first-seen order, each with the kinds its values have.</summary>
    public static IReadOnlyList<VerlColumn> OfJsonRows(IEnumerable<JsonObject> rows)
    {
        var shape = new Shape();
        int count = 0;
        foreach (var row in rows) { shape.Add(row); count++; }
        return shape.Members.Select(m => new VerlColumn(m.Key, m.Value.Within(count), VerlColumn.RoleOf(m.Key))).ToList();
    }

    /// <summary>The union of the JSON values seen at one place: scalar kinds, an object's members, a list's items.</summary>
    sealed class Shape
    {
        readonly SortedSet<string> _scalars = new(StringComparer.Ordinal);
        public readonly List<KeyValuePair<string, Shape>> Members = [];
        bool _null;
        int _objects, _present;
        Shape? _items;

        public void Add(JsonNode? node)
        {
            _present++;
            switch (node)
            {
                case null: _null = true; break;
                case JsonObject o:
                    _objects++;
                    foreach (var (key, value) in o)
                    {
                        var member = Members.FirstOrDefault(m => m.Key == key).Value;
                        if (member is null) Members.Add(KeyValuePair.Create(key, member = new Shape()));
                        member.Add(value);
                    }
                    break;
                case JsonArray a:
                    _items ??= new Shape();
                    foreach (var item in a) _items.Add(item);
                    break;
                default: _scalars.Add(node.GetValueKind() is System.Text.Json.JsonValueKind.True or System.Text.Json.JsonValueKind.False ? "bool" : node.GetValueKind().ToString().ToLowerInvariant()); break;
            }
        }

        public override string ToString()
        {
            var kinds = new List<string>(_scalars);
            if (_items is not null) kinds.Add($"list<{(_items.IsEmpty ? "?" : _items.ToString())}>");
            if (_objects > 0) kinds.Add($"struct<{string.Join(", ", Members.Select(m => $"{m.Key}: {m.Value.Within(_objects)}"))}>");
            if (_null) kinds.Add("null");
            return string.Join('|', kinds);
        }

        /// <summary>A member's kinds, plus <c>missing</c> when fewer than all of its parent's objects had it.</summary>
        public string Within(int parentObjects) => _present < parentObjects ? $"{this}|missing" : ToString();

        bool IsEmpty => _present == 0;
    }
}
