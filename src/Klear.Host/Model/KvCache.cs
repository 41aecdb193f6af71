using TorchSharp;
using static TorchSharp.torch;

namespace Klear.Host.Model;

/// <summary>
/// Keys and values of every layer for one batch of sequences, preallocated to a fixed capacity so a decoding step
/// writes one slice instead of concatenating (and copying) the whole history.
/// <para>
/// The buffers belong to the cache's own dispose scope, detached from the caller's: TorchSharp's scopes form a per-thread
/// stack whose <c>Dispose</c> pops the top, so a long-lived scope left open would swallow the caller's tensors. The
/// cache therefore opens its scope only while allocating and frees the buffers in <see cref="Dispose"/>.
/// </para>
/// </summary>
public sealed class KvCache : IDisposable
{
    readonly Tensor[] _keys;
    readonly Tensor[] _values;
    readonly int[] _lengths;
    bool _disposed;

    public long Batch { get; private set; }
    public int Capacity { get; }

    public KvCache(int layers, long batch, int kvHeads, int headDim, int capacity, ScalarType dtype = ScalarType.Float32, Device? device = null)
    {
        if (layers <= 0 || batch <= 0 || kvHeads <= 0 || headDim <= 0 || capacity <= 0)
            throw new ArgumentException($"KvCache: every size must be positive (layers {layers}, batch {batch}, kvHeads {kvHeads}, headDim {headDim}, capacity {capacity})");
        Batch = batch;
        Capacity = capacity;
        _keys = new Tensor[layers];
        _values = new Tensor[layers];
        _lengths = new int[layers];
        using var scope = torch.NewDisposeScope();
        for (int i = 0; i < layers; i++)
        {
            _keys[i] = torch.zeros([batch, kvHeads, capacity, headDim], dtype, device).DetachFromDisposeScope(); // [B, Hkv, Tmax, D]
            _values[i] = torch.zeros([batch, kvHeads, capacity, headDim], dtype, device).DetachFromDisposeScope();
        }
    }

    /// <summary>Tokens stored so far (equal for every layer between forward passes).</summary>
    public int Length => _lengths[^1];

    /// <summary>
    /// Writes the new keys and values [B, Hkv, T, D] of <paramref name="layer"/> after the stored ones and returns views
    /// of the whole history [B, Hkv, Length + T, D]; the views die with the caller's scope, the buffers stay.
    /// </summary>
    public (Tensor Keys, Tensor Values) Append(int layer, Tensor keys, Tensor values)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        var buffer = _keys[layer];
        if (keys.dim() != 4 || keys.shape[0] != buffer.shape[0] || keys.shape[1] != buffer.shape[1] || keys.shape[3] != buffer.shape[3])
            throw new ArgumentException($"KvCache.Append: keys [{string.Join(", ", keys.shape)}] do not fit the cache [{string.Join(", ", buffer.shape)}]", nameof(keys));
        if (!values.shape.SequenceEqual(keys.shape))
            throw new ArgumentException($"KvCache.Append: values [{string.Join(", ", values.shape)}] differ from keys [{string.Join(", ", keys.shape)}]", nameof(values));
        int start = _lengths[layer], t = (int)keys.shape[2];
        if (start + t > Capacity)
            throw new InvalidOperationException($"KvCache: {start} + {t} tokens exceed the capacity {Capacity}");
        using (torch.no_grad())
        {
            _keys[layer].narrow(2, start, t).copy_(keys);
            _values[layer].narrow(2, start, t).copy_(values);
        }
        _lengths[layer] = start + t;
        return (_keys[layer].narrow(2, 0, start + t), _values[layer].narrow(2, 0, start + t));
    }

    /// <summary>
    /// Keeps only the batch rows <paramref name="rows"/> (int64 indices, in their new order), e.g. to drop finished
    /// sequences from a generation batch. The stored tokens move to new, smaller buffers of the same capacity.
    /// </summary>
    public void KeepRows(Tensor rows)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        if (rows.dim() != 1 || rows.dtype != ScalarType.Int64 || rows.shape[0] == 0)
            throw new ArgumentException($"KvCache.KeepRows: rows must be a non-empty int64 vector, got {rows.dtype} [{string.Join(", ", rows.shape)}]", nameof(rows));
        using var scope = torch.NewDisposeScope();
        long kept = rows.shape[0];
        if (rows.min().item<long>() < 0 || rows.max().item<long>() >= Batch)
            throw new ArgumentException($"KvCache.KeepRows: row indices must lie in [0, {Batch})", nameof(rows));
        for (int i = 0; i < _keys.Length; i++)
        {
            _keys[i] = Select(_keys[i], _lengths[i], rows);
            _values[i] = Select(_values[i], _lengths[i], rows);
        }
        Batch = kept;
    }

    /// <summary>The stored part of <paramref name="buffer"/> at <paramref name="rows"/>, in a new full-capacity buffer.</summary>
    static Tensor Select(Tensor buffer, int length, Tensor rows)
    {
        var shape = buffer.shape;
        // Only [0, length) is ever read (Append returns views up to the stored length), so the tail can stay uninitialised.
        var selected = torch.empty([rows.shape[0], shape[1], shape[2], shape[3]], buffer.dtype, buffer.device); // [B', Hkv, Tmax, D]
        if (length > 0) selected.narrow(2, 0, length).copy_(buffer.narrow(2, 0, length).index_select(0, rows));
        buffer.Dispose();
        return selected.DetachFromDisposeScope();
    }

    public void Dispose()
    {
        if (_disposed) return;
        _disposed = true;
        foreach (var t in _keys.Concat(_values)) t.Dispose();
    }
}
