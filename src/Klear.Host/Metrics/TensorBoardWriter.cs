using System.Buffers.Binary;
using System.Text;

namespace Klear.Host.Metrics;

/// <summary>
/// Writes scalar summaries as a TensorBoard event file (<c>events.out.tfevents.*</c>): TFRecord framing around
/// hand-encoded <c>tensorflow.Event</c> protobufs (wall_time = 1, step = 2, file_version = 3, summary = 5;
/// Summary.value = 1; Value.tag = 1, Value.simple_value = 2). No TensorFlow or protobuf runtime needed.
/// </summary>
public sealed class TensorBoardWriter : IDisposable
{
    readonly FileStream _file;

    public TensorBoardWriter(string directory)
    {
        Directory.CreateDirectory(directory);
        var name = $"events.out.tfevents.{DateTimeOffset.UtcNow.ToUnixTimeSeconds()}.{Environment.MachineName}";
        _file = new FileStream(Path.Combine(directory, name), FileMode.Create, FileAccess.Write, FileShare.Read);
        var first = new ProtoWriter();
        first.Double(1, Now());
        first.Bytes(3, Encoding.UTF8.GetBytes("brain.Event:2"));
        WriteRecord(first.ToArray());
    }

    public void Scalars(long step, IEnumerable<KeyValuePair<string, double>> values)
    {
        var summary = new ProtoWriter();
        foreach (var (tag, v) in values)
        {
            if (!double.IsFinite(v)) continue;
            var value = new ProtoWriter();
            value.Bytes(1, Encoding.UTF8.GetBytes(tag));
            value.Float(2, (float)v);
            summary.Bytes(1, value.ToArray());
        }
        var ev = new ProtoWriter();
        ev.Double(1, Now());
        ev.Varint(2, (ulong)step);
        ev.Bytes(5, summary.ToArray());
        WriteRecord(ev.ToArray());
        _file.Flush();
    }

    static double Now() => DateTimeOffset.UtcNow.ToUnixTimeMilliseconds() / 1000.0;

    void WriteRecord(byte[] data)
    {
        Span<byte> header = stackalloc byte[12];
        BinaryPrimitives.WriteUInt64LittleEndian(header, (ulong)data.Length);
        BinaryPrimitives.WriteUInt32LittleEndian(header[8..], Crc32C.Masked(header[..8]));
        _file.Write(header);
        _file.Write(data);
        Span<byte> footer = stackalloc byte[4];
        BinaryPrimitives.WriteUInt32LittleEndian(footer, Crc32C.Masked(data));
        _file.Write(footer);
    }

    public void Dispose() => _file.Dispose();

    /// <summary>The few protobuf wire types an Event needs.</summary>
    sealed class ProtoWriter
    {
        readonly MemoryStream _s = new();
        void Tag(int field, int wire) => Raw((ulong)((field << 3) | wire));
        void Raw(ulong v) { while (v >= 0x80) { _s.WriteByte((byte)(v | 0x80)); v >>= 7; } _s.WriteByte((byte)v); }
        public void Varint(int field, ulong v) { Tag(field, 0); Raw(v); }
        public void Double(int field, double v) { Tag(field, 1); Span<byte> b = stackalloc byte[8]; BinaryPrimitives.WriteDoubleLittleEndian(b, v); _s.Write(b); }
        public void Float(int field, float v) { Tag(field, 5); Span<byte> b = stackalloc byte[4]; BinaryPrimitives.WriteSingleLittleEndian(b, v); _s.Write(b); }
        public void Bytes(int field, byte[] v) { Tag(field, 2); Raw((ulong)v.Length); _s.Write(v); }
        public byte[] ToArray() => _s.ToArray();
    }
}
