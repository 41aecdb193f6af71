using System.Text.Json.Nodes;
using Apache.Arrow;
using Apache.Arrow.Types;

namespace Klear.Host.Data;

/// <summary>
/// Arrow values as the JSON a JSON Lines row would hold: structs and maps become objects, lists arrays, a null stays a
/// member whose value is null. Walks Arrow's own nesting, so an empty list, a null list and a null struct member each
/// come back as written.
/// </summary>
static class ArrowJson
{
    /// <summary>The batch's rows as objects, one member per column. Row numbers in errors start at <paramref name="firstRow"/>.</summary>
    public static IEnumerable<JsonObject> Rows(RecordBatch batch, string file, int firstRow)
    {
        for (int i = 0; i < batch.Length; i++)
        {
            var row = new JsonObject();
            for (int c = 0; c < batch.ColumnCount; c++)
            {
                var name = batch.Schema.GetFieldByIndex(c).Name;
                try { row[name] = Value(batch.Column(c), i); }
                catch (NotSupportedException e) { throw new DataFormatException(file, firstRow + i, name, e.Message); }
            }
            yield return row;
        }
    }

    public static JsonNode? Value(IArrowArray array, int index) => array.IsNull(index) ? null : array switch
    {
        StringArray a => a.GetString(index),
        LargeStringArray a => a.GetString(index),
        BinaryArray a => Convert.ToBase64String(a.GetBytes(index)),
        LargeBinaryArray a => Convert.ToBase64String(a.GetBytes(index)),
        BooleanArray a => a.GetValue(index),
        Int8Array a => a.GetValue(index),
        Int16Array a => a.GetValue(index),
        Int32Array a => a.GetValue(index),
        Int64Array a => a.GetValue(index),
        UInt8Array a => a.GetValue(index),
        UInt16Array a => a.GetValue(index),
        UInt32Array a => a.GetValue(index),
        UInt64Array a => a.GetValue(index),
        HalfFloatArray a => (double?)a.GetValue(index),
        FloatArray a => (double?)a.GetValue(index),
        DoubleArray a => a.GetValue(index),
        Decimal128Array a => (double?)a.GetValue(index),
        Date32Array a => a.GetDateTimeOffset(index),
        Date64Array a => a.GetDateTimeOffset(index),
        TimestampArray a => a.GetTimestamp(index),
        DictionaryArray a => Value(a.Dictionary, DictionaryIndex(a.Indices, index)),
        MapArray a => Map(a, index),
        ListArray a => List(a.Values, a.ValueOffsets[index], a.GetValueLength(index)),
        LargeListArray a => List(a.Values, checked((int)a.ValueOffsets[index]), a.GetValueLength(index)),
        StructArray a => Struct(a, index),
        _ => throw new NotSupportedException($"unsupported parquet column type {array.Data.DataType.Name}"),
    };

    static int DictionaryIndex(IArrowArray indices, int index) => indices switch
    {
        Int8Array a => a.GetValue(index)!.Value,
        Int16Array a => a.GetValue(index)!.Value,
        Int32Array a => a.GetValue(index)!.Value,
        Int64Array a => checked((int)a.GetValue(index)!.Value),
        UInt8Array a => a.GetValue(index)!.Value,
        UInt16Array a => a.GetValue(index)!.Value,
        UInt32Array a => checked((int)a.GetValue(index)!.Value),
        _ => throw new NotSupportedException($"unsupported dictionary index type {indices.Data.DataType.Name}"),
    };

    static JsonArray List(IArrowArray values, int start, int length)
    {
        var items = new JsonNode?[length];
        for (int k = 0; k < length; k++) items[k] = Value(values, start + k);
        return new JsonArray(items);
    }

    // A struct's offset applies to its children too: Arrow C# does not slice them.
    static JsonObject Struct(StructArray array, int index)
    {
        var fields = ((StructType)array.Data.DataType).Fields;
        var o = new JsonObject();
        for (int k = 0; k < fields.Count; k++) o[fields[k].Name] = Value(array.Fields[k], array.Offset + index);
        return o;
    }

    static JsonObject Map(MapArray array, int index)
    {
        var o = new JsonObject();
        int start = array.ValueOffsets[index];
        for (int k = start; k < start + array.GetValueLength(index); k++)
        {
            var key = Value(array.Keys, k);
            o[key is JsonValue v && v.TryGetValue<string>(out var s) ? s : key?.ToJsonString() ?? ""] = Value(array.Values, k);
        }
        return o;
    }
}
