using Apache.Arrow;
using Apache.Arrow.Types;

namespace Klear.Host.Data;

/// <summary>
/// Builds the Arrow columns of a verl file: nullable strings and scalars, structs of columns, and lists of structs.
/// Every field is nullable, as pandas and pyarrow write them.
/// </summary>
static class ArrowColumns
{
    public static StringArray Strings(IEnumerable<string?> values)
    {
        var b = new StringArray.Builder();
        foreach (var v in values)
            if (v is null) b.AppendNull(); else b.Append(v);
        return b.Build();
    }

    /// <summary>A column of long, double, bool or string values (null where a row has none).</summary>
    public static IArrowArray Scalars(Type type, IEnumerable<object?> values)
    {
        if (type == typeof(long)) return Build(new Int64Array.Builder(), values.Select(v => (long?)v));
        if (type == typeof(double)) return Build(new DoubleArray.Builder(), values.Select(v => (double?)v));
        if (type == typeof(bool))
        {
            var b = new BooleanArray.Builder();
            foreach (var v in values)
                if (v is bool x) b.Append(x); else b.AppendNull();
            return b.Build();
        }
        return Strings(values.Select(v => (string?)v));
    }

    static TArray Build<T, TArray, TBuilder>(PrimitiveArrayBuilder<T, TArray, TBuilder> b, IEnumerable<T?> values)
        where T : struct where TArray : IArrowArray where TBuilder : class, IArrowArrayBuilder<TArray>
    {
        foreach (var v in values)
            if (v is { } x) b.Append(x); else b.AppendNull();
        return b.Build();
    }

    /// <summary>A struct column of the given members; <paramref name="valid"/> (one flag a row) marks null structs.</summary>
    public static StructArray Struct(int length, IReadOnlyList<bool>? valid, params (string Name, IArrowArray Array)[] members)
    {
        var type = new StructType(members.Select(m => new Field(m.Name, m.Array.Data.DataType, nullable: true)).ToList());
        var (bitmap, nulls) = Validity(valid);
        return new StructArray(type, length, members.Select(m => m.Array), bitmap, nulls, 0);
    }

    /// <summary>A list column: row i holds <paramref name="lengths"/>[i] consecutive values of <paramref name="values"/>.</summary>
    public static ListArray List(IArrowArray values, IEnumerable<int> lengths)
    {
        var offsets = new ArrowBuffer.Builder<int>().Append(0);
        int end = 0, rows = 0;
        foreach (var n in lengths) { offsets.Append(end += n); rows++; }
        // "element", the list item's name in the parquet spec's three-level layout, as pyarrow writes it.
        var type = new ListType(new Field("element", values.Data.DataType, nullable: true));
        return new ListArray(type, rows, offsets.Build(), values, ArrowBuffer.Empty, 0, 0);
    }

    static (ArrowBuffer Bitmap, int Nulls) Validity(IReadOnlyList<bool>? valid)
    {
        if (valid is null || valid.All(v => v)) return (ArrowBuffer.Empty, 0);
        var b = new ArrowBuffer.BitmapBuilder(valid.Count);
        foreach (var v in valid) b.Append(v);
        return (b.Build(), valid.Count(v => !v));
    }
}
