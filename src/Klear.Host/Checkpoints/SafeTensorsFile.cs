using System.Buffers.Binary;
using System.Runtime.InteropServices;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using TorchSharp;
using static TorchSharp.torch;

namespace Klear.Host.Checkpoints;

/// <summary>
/// Reads and writes the safetensors format: an 8-byte little-endian header length, a JSON header mapping each name to
/// dtype, shape and data_offsets, then the raw little-endian data. Tensors come out as fp32 on the CPU whatever their
/// stored type, because the policy trains in fp32 (bf16 matmuls are slow on CPU and lose the small RL updates).
/// </summary>
public sealed class SafeTensorsFile : IDisposable
{
    const long MaxHeaderBytes = 100_000_000;
    readonly FileStream _stream;
    readonly long _dataStart;

    public string Path { get; }
    public IReadOnlyDictionary<string, SafeTensorEntry> Entries { get; }

    SafeTensorsFile(string path, FileStream stream, long dataStart, Dictionary<string, SafeTensorEntry> entries)
    {
        Path = path;
        _stream = stream;
        _dataStart = dataStart;
        Entries = entries;
    }

    /// <summary>Opens a file and validates its header: every tensor's dtype, shape and byte range.</summary>
    public static SafeTensorsFile Open(string path)
    {
        if (!File.Exists(path)) throw new CheckpointException($"{path}: file not found");
        var stream = File.OpenRead(path);
        try
        {
            Span<byte> lengthBytes = stackalloc byte[8];
            if (stream.Read(lengthBytes) != 8) throw new CheckpointException($"{path}: shorter than the 8-byte header length");
            long headerLength = BinaryPrimitives.ReadInt64LittleEndian(lengthBytes);
            if (headerLength <= 0 || headerLength > MaxHeaderBytes || 8 + headerLength > stream.Length)
                throw new CheckpointException($"{path}: header length {headerLength} is impossible for a file of {stream.Length} bytes");
            var headerBytes = new byte[headerLength];
            stream.ReadExactly(headerBytes);
            long dataLength = stream.Length - 8 - headerLength;
            var entries = ParseHeader(path, Encoding.UTF8.GetString(headerBytes), dataLength);
            return new SafeTensorsFile(path, stream, 8 + headerLength, entries);
        }
        catch
        {
            stream.Dispose();
            throw;
        }
    }

    static Dictionary<string, SafeTensorEntry> ParseHeader(string path, string json, long dataLength)
    {
        JsonObject header;
        try { header = JsonNode.Parse(json)?.AsObject() ?? throw new CheckpointException($"{path}: header is not a JSON object"); }
        catch (JsonException e) { throw new CheckpointException($"{path}: header is not valid JSON ({e.Message})"); }
        var entries = new Dictionary<string, SafeTensorEntry>(StringComparer.Ordinal);
        foreach (var (name, node) in header)
        {
            if (name == "__metadata__") continue;
            try
            {
                var obj = node!.AsObject();
                var dtypeName = (string)obj["dtype"]!;
                if (!Enum.TryParse<SafeTensorsDtype>(dtypeName, ignoreCase: false, out var dtype) || int.TryParse(dtypeName, out _))
                    throw new CheckpointException($"{path}: tensor '{name}' has dtype '{dtypeName}', which Klear does not read (F32, BF16, F16, F64)");
                var shape = obj["shape"]!.AsArray().Select(d => (long)d!).ToArray();
                var offsets = obj["data_offsets"]!.AsArray().Select(d => (long)d!).ToArray();
                if (offsets.Length != 2) throw new CheckpointException($"{path}: tensor '{name}' needs two data_offsets");
                var entry = new SafeTensorEntry(name, dtype, shape, offsets[0], offsets[1]);
                long expected = entry.ElementCount * SafeTensorEntry.ElementSize(dtype);
                if (shape.Any(d => d < 0) || entry.End - entry.Begin != expected || entry.Begin < 0 || entry.End > dataLength)
                    throw new CheckpointException(
                        $"{path}: tensor '{name}' ({dtypeName} [{string.Join(", ", shape)}] = {expected} bytes) has data_offsets [{entry.Begin}, {entry.End}] in a data section of {dataLength} bytes");
                entries.Add(name, entry);
            }
            catch (Exception e) when (e is InvalidOperationException or NullReferenceException or FormatException)
            {
                throw new CheckpointException($"{path}: tensor '{name}' has a malformed header entry ({e.Message})");
            }
        }
        return entries;
    }

    /// <summary>The named tensor as fp32 on the CPU, in the caller's dispose scope.</summary>
    public Tensor ReadFloat32(string name)
    {
        if (!Entries.TryGetValue(name, out var entry)) throw new CheckpointException($"{Path}: no tensor '{name}'");
        var bytes = new byte[entry.End - entry.Begin];
        _stream.Position = _dataStart + entry.Begin;
        _stream.ReadExactly(bytes);
        float[] values = entry.Dtype switch
        {
            SafeTensorsDtype.F32 => MemoryMarshal.Cast<byte, float>(bytes).ToArray(),
            SafeTensorsDtype.F64 => MemoryMarshal.Cast<byte, double>(bytes).ToArray().Select(d => (float)d).ToArray(),
            SafeTensorsDtype.F16 => MemoryMarshal.Cast<byte, Half>(bytes).ToArray().Select(h => (float)h).ToArray(),
            // bf16 is the top half of an fp32 bit pattern, so widening is exact.
            SafeTensorsDtype.BF16 => MemoryMarshal.Cast<byte, ushort>(bytes).ToArray().Select(b => BitConverter.Int32BitsToSingle(b << 16)).ToArray(),
            _ => throw new CheckpointException($"{Path}: tensor '{name}' has unsupported dtype {entry.Dtype}"),
        };
        return torch.tensor(values, entry.Shape);
    }

    /// <summary>
    /// Writes <paramref name="tensors"/> in order as F32 or BF16 (round to nearest even), header padded with spaces to
    /// a multiple of 8 bytes as the reference implementation does, with <c>{"format": "pt"}</c> metadata so
    /// transformers accepts it.
    /// </summary>
    public static long Write(string path, IReadOnlyList<(string Name, Tensor Tensor)> tensors, SafeTensorsDtype dtype)
    {
        if (dtype is not (SafeTensorsDtype.F32 or SafeTensorsDtype.BF16))
            throw new ArgumentException($"SafeTensorsFile.Write: Klear writes F32 or BF16, not {dtype}", nameof(dtype));
        int elementSize = SafeTensorEntry.ElementSize(dtype);
        var header = new JsonObject { ["__metadata__"] = new JsonObject { ["format"] = "pt" } };
        long offset = 0;
        foreach (var (name, t) in tensors)
        {
            long bytes = t.numel() * elementSize;
            header[name] = new JsonObject
            {
                ["dtype"] = dtype.ToString(),
                ["shape"] = new JsonArray(t.shape.Select(d => JsonValue.Create(d)).ToArray<JsonNode?>()),
                ["data_offsets"] = new JsonArray(offset, offset + bytes),
            };
            offset += bytes;
        }
        var headerBytes = Encoding.UTF8.GetBytes(header.ToJsonString());
        int padding = (8 - headerBytes.Length % 8) % 8;
        using var stream = File.Create(path);
        Span<byte> lengthBytes = stackalloc byte[8];
        BinaryPrimitives.WriteInt64LittleEndian(lengthBytes, headerBytes.Length + padding);
        stream.Write(lengthBytes);
        stream.Write(headerBytes);
        for (int i = 0; i < padding; i++) stream.WriteByte((byte)' ');
        foreach (var (_, t) in tensors)
        {
            using var scope = torch.NewDisposeScope();
            var values = t.detach().to(CPU).to_type(ScalarType.Float32).contiguous().data<float>().ToArray();
            if (dtype == SafeTensorsDtype.F32) stream.Write(MemoryMarshal.AsBytes(values.AsSpan()));
            else stream.Write(MemoryMarshal.AsBytes(values.Select(ToBFloat16).ToArray().AsSpan()));
        }
        return offset;
    }

    static ushort ToBFloat16(float f)
    {
        uint bits = BitConverter.SingleToUInt32Bits(f);
        if (float.IsNaN(f)) return (ushort)((bits >> 16) | 0x40);
        uint roundingBias = 0x7FFF + ((bits >> 16) & 1);
        return (ushort)((bits + roundingBias) >> 16);
    }

    public void Dispose() => _stream.Dispose();
}
