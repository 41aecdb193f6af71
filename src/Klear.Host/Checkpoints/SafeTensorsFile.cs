using System.Buffers.Binary;
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
        var stored = Read(name);
        if (stored.dtype == ScalarType.Float32) return stored;
        using (stored) return stored.to_type(ScalarType.Float32);
    }

    /// <summary>
    /// The named tensor in its stored element type on the CPU, read straight into the tensor's memory: loading a
    /// bf16 checkpoint holds one bf16 copy of a tensor at a time, and <c>copy_</c> into an fp32 parameter widens it
    /// (exactly: bf16 is the top half of an fp32 bit pattern).
    /// </summary>
    public Tensor Read(string name)
    {
        if (!Entries.TryGetValue(name, out var entry)) throw new CheckpointException($"{Path}: no tensor '{name}'");
        var tensor = torch.empty(entry.Shape, ScalarTypeOf(entry.Dtype));
        _stream.Position = _dataStart + entry.Begin;
        foreach (var chunk in Chunks(tensor))
            using (chunk) _stream.ReadExactly(chunk.bytes);
        return tensor;
    }

    static ScalarType ScalarTypeOf(SafeTensorsDtype dtype) => dtype switch
    {
        SafeTensorsDtype.F32 => ScalarType.Float32,
        SafeTensorsDtype.F64 => ScalarType.Float64,
        SafeTensorsDtype.F16 => ScalarType.Float16,
        SafeTensorsDtype.BF16 => ScalarType.BFloat16,
        _ => throw new ArgumentOutOfRangeException(nameof(dtype), dtype, null),
    };

    /// <summary>Contiguous 1-d views covering <paramref name="tensor"/> in order, each small enough for a span
    /// (an embedding of a larger model exceeds the 2 GB a span can address).</summary>
    static IEnumerable<Tensor> Chunks(Tensor tensor)
    {
        const long maxBytes = 1L << 30;
        var flat = tensor.view(-1);
        long n = flat.shape[0], step = Math.Max(1, maxBytes / tensor.ElementSize);
        for (long start = 0; start < n; start += step) yield return flat.narrow(0, start, Math.Min(step, n - start));
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
            // libtorch's conversion rounds fp32 to bf16 to nearest even, as torch's save_pretrained does.
            var stored = t.detach().to(CPU).to_type(ScalarTypeOf(dtype)).contiguous();
            foreach (var chunk in Chunks(stored)) stream.Write(chunk.bytes);
        }
        return offset;
    }

    public void Dispose() => _stream.Dispose();
}
