using System.Runtime.InteropServices;
using Microsoft.Win32.SafeHandles;
using SeekSharp.Gguf;

namespace SeekSharp.Numerics;

/// <summary>
/// The packed copies of one model's weights (native memory, freed on <see cref="Dispose"/>). <see cref="Add"/> reserves
/// a matrix's copy; <see cref="PackAll"/> then fills all of them in parallel. The plain rows are read from the file with
/// positioned reads rather than through the mapping, so packing does not leave the mapped pages resident next to the
/// copy (llama.cpp likewise unmaps the file ranges it repacked).
/// </summary>
public sealed unsafe class PackedWeightStore : IDisposable
{
    // Plain bytes read per work item: small enough for the per-thread read buffer, big enough to keep reads efficient.
    private const long SlabBytes = 1 << 20;
    // Copies are carved out of chunks of this size (a MoE model has hundreds of small expert matrices), aligned to 2 MiB
    // so whole huge-page-sized ranges are available to the kernel; bigger copies get an allocation of their own.
    private const long ChunkBytes = 64L << 20;
    private const nuint ChunkAlignment = 2 << 20;

    private readonly List<nint> _buffers = new();
    private byte* _chunk;
    private long _chunkUsed;
    private readonly List<Pending> _pending = new();
    private bool _disposed;

    // Path: the file to read the plain rows from (at FileOffset), or null to read them at Source.
    private readonly record struct Pending(GgmlType Type, int Rows, int Cols, long RowBytes, string? Path, long FileOffset, nint Source, nint Destination);

    /// <summary>Bytes held by the packed copies.</summary>
    public long Bytes { get; private set; }

    /// <summary>Number of packed matrices.</summary>
    public int Count { get; private set; }

    /// <summary>
    /// Reserves the packed copy of <paramref name="w"/> and returns the matrix carrying it (filled by
    /// <see cref="PackAll"/>); returns <paramref name="w"/> itself when llama.cpp would not repack it. When
    /// <paramref name="file"/> (a file opened from a path) holds the rows, <see cref="PackAll"/> reads them from the
    /// file; otherwise from <paramref name="w"/>.Data.
    /// </summary>
    public WeightMatrix Add(in WeightMatrix w, GgufFile? file = null)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        if (!WeightPacking.Applies(w.Type, w.Rows, w.Cols))
            return w;
        long bytes = WeightPacking.PackedBytes(w.Type, w.Rows, w.Cols);
        if (bytes == 0)
            return w.WithPacked(w.Data); // the repacked order on the plain rows: nothing to copy
        byte* dst = Allocate(bytes);
        Bytes += bytes;
        Count++;
        string? path = file?.Path;
        long fileOffset = path == null ? 0 : file!.FileOffsetOf(w.Data);
        _pending.Add(new Pending(w.Type, w.Rows, w.Cols, w.RowBytes, path, fileOffset, (nint)w.Data, (nint)dst));
        return w.WithPacked(dst);
    }

    /// <summary>Room for one copy: 64-byte aligned, inside the current chunk when it fits.</summary>
    private byte* Allocate(long bytes)
    {
        bytes = (bytes + 63) & ~63L;
        if (bytes > ChunkBytes / 4)
        {
            byte* own = (byte*)NativeMemory.AlignedAlloc((nuint)bytes, ChunkAlignment);
            _buffers.Add((nint)own);
            return own;
        }
        if (_chunk == null || _chunkUsed + bytes > ChunkBytes)
        {
            _chunk = (byte*)NativeMemory.AlignedAlloc((nuint)ChunkBytes, ChunkAlignment);
            _buffers.Add((nint)_chunk);
            _chunkUsed = 0;
        }
        byte* p = _chunk + _chunkUsed;
        _chunkUsed += bytes;
        return p;
    }

    /// <summary>Fills every reserved copy, on up to <paramref name="threads"/> threads.</summary>
    public void PackAll(int threads)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        if (_pending.Count == 0)
            return;
        // Work items: slabs of whole groups, about SlabBytes of plain rows each.
        var items = new List<(int Job, int G0, int G1)>();
        for (int j = 0; j < _pending.Count; j++)
        {
            var p = _pending[j];
            int groupRows = WeightPacking.GroupRows(p.Type), groups = WeightPacking.Groups(p.Type, p.Rows);
            int step = (int)Math.Max(1, SlabBytes / (groupRows * p.RowBytes));
            for (int g = 0; g < groups; g += step)
                items.Add((j, g, Math.Min(groups, g + step)));
        }
        // One handle per source file (a model's store has one).
        var handles = new Dictionary<string, SafeFileHandle>();
        try
        {
            foreach (var p in _pending)
                if (p.Path != null && !handles.ContainsKey(p.Path))
                    handles[p.Path] = File.OpenHandle(p.Path, FileMode.Open, FileAccess.Read, FileShare.Read, FileOptions.RandomAccess);
            Parallel.For(0, items.Count, new ParallelOptions { MaxDegreeOfParallelism = Math.Max(1, threads) },
                () => new ReadBuffer(),
                (i, _, buffer) =>
                {
                    var (job, g0, g1) = items[i];
                    var p = _pending[job];
                    PackSlab(p, g0, g1, p.Path == null ? null : handles[p.Path], buffer);
                    return buffer;
                },
                buffer => buffer.Dispose());
        }
        catch (AggregateException e) when (e.InnerExceptions.Count > 0)
        {
            // Report the first failure itself (a truncated file, an I/O error), not the parallel loop's wrapper.
            System.Runtime.ExceptionServices.ExceptionDispatchInfo.Capture(e.InnerExceptions[0]).Throw();
        }
        finally
        {
            foreach (var h in handles.Values)
                h.Dispose();
        }
        _pending.Clear();
    }

    private static void PackSlab(in Pending p, int g0, int g1, SafeFileHandle? handle, ReadBuffer buffer)
    {
        int groupRows = WeightPacking.GroupRows(p.Type);
        int r0 = g0 * groupRows, r1 = Math.Min(p.Rows, g1 * groupRows);
        byte* src = (byte*)p.Source;
        if (handle != null)
        {
            long bytes = (r1 - r0) * p.RowBytes;
            byte* b = buffer.Get(bytes);
            long done = 0;
            while (done < bytes)
            {
                int chunk = (int)Math.Min(bytes - done, int.MaxValue);
                int read = RandomAccess.Read(handle, new Span<byte>(b + done, chunk), p.FileOffset + r0 * p.RowBytes + done);
                if (read <= 0)
                    throw new GgufFormatException($"the file ended while reading weights at offset {p.FileOffset + r0 * p.RowBytes + done}");
                done += read;
            }
            // Pack addresses rows by their index in the matrix: point row 0 to where it would sit before the slab.
            src = b - r0 * p.RowBytes;
        }
        WeightPacking.Pack(p.Type, src, p.Rows, p.Cols, (byte*)p.Destination, g0, g1);
    }

    public void Dispose()
    {
        if (_disposed)
            return;
        _disposed = true;
        foreach (nint b in _buffers)
            NativeMemory.AlignedFree((void*)b);
        _buffers.Clear();
        _pending.Clear();
        _chunk = null;
    }

    /// <summary>One thread's buffer for plain rows read from the file.</summary>
    private sealed class ReadBuffer : IDisposable
    {
        private byte* _data;
        private long _size;

        public byte* Get(long bytes)
        {
            if (bytes > _size)
            {
                NativeMemory.AlignedFree(_data);
                _data = (byte*)NativeMemory.AlignedAlloc((nuint)bytes, 64);
                _size = bytes;
            }
            return _data;
        }

        public void Dispose()
        {
            NativeMemory.AlignedFree(_data);
            _data = null;
        }
    }
}
