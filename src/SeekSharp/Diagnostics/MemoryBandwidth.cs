using System.Diagnostics;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using SeekSharp.Numerics.Threading;

namespace SeekSharp.Diagnostics;

/// <summary>
/// Measures sustained memory read bandwidth the way decoding uses it: every thread of a <see cref="WorkerPool"/>
/// streams its own contiguous part of a buffer much larger than the last-level cache and sums it with vector loads.
/// </summary>
/// <remarks>
/// Decoding reads every active weight once per token, so tokens/s can never exceed this bandwidth divided by the
/// weight bytes read per token. The best of several passes is reported (the first pass also faults the pages in).
/// On a shared machine the bandwidth left to one process moves by tens of percent within seconds (other tenants of the
/// memory bus), so a ceiling is only comparable with a decode run measured right next to it: <see cref="Probe"/> keeps
/// its buffer for repeated measurements between runs.
/// </remarks>
public static unsafe class MemoryBandwidth
{
    /// <summary>Default buffer: 512 MiB, well above any CPU's last-level cache.</summary>
    public const long DefaultBytes = 512L << 20;

    /// <summary>Returns the best read bandwidth in bytes per second over <paramref name="passes"/> passes.</summary>
    public static double Measure(WorkerPool pool, long bytes = DefaultBytes, int passes = 5)
    {
        using var probe = new Probe(pool, bytes);
        return probe.Measure(passes);
    }

    /// <summary>A probe buffer, filled once, for repeated measurements (<see cref="Measure(int)"/>).</summary>
    public sealed class Probe : IDisposable
    {
        private readonly WorkerPool _pool;
        private readonly long _vectors;
        private Vector512<float>* _data;

        /// <summary>Allocates and fills <paramref name="bytes"/> (resident from here until <see cref="Dispose"/>).</summary>
        public Probe(WorkerPool pool, long bytes = DefaultBytes)
        {
            ArgumentNullException.ThrowIfNull(pool);
            ArgumentOutOfRangeException.ThrowIfLessThan(bytes, 1L << 20);
            _pool = pool;
            _vectors = bytes / 64;
            _data = (Vector512<float>*)NativeMemory.AlignedAlloc((nuint)(_vectors * 64), 64);
            // Non-zero fill so the pages are really backed (zero pages would all map one shared page).
            new Span<byte>(_data, (int)Math.Min(int.MaxValue, _vectors * 64)).Fill(1);
            for (long i = int.MaxValue / 64; i < _vectors; i++) _data[i] = Vector512<float>.One;
        }

        /// <summary>Bytes the probe streams per pass.</summary>
        public long Bytes => _vectors * 64;

        /// <summary>The best read bandwidth in bytes per second over <paramref name="passes"/> timed passes (after one untimed).</summary>
        public double Measure(int passes = 5)
        {
            ArgumentOutOfRangeException.ThrowIfLessThan(passes, 1);
            ObjectDisposedException.ThrowIf(_data == null, this);
            var body = new ReadBody { Data = _data, Vectors = _vectors, Parts = _pool.ThreadCount };
            double best = 0;
            for (int p = 0; p < passes + 1; p++)
            {
                long t0 = Stopwatch.GetTimestamp();
                _pool.For(body.Parts, ref body);
                double s = Stopwatch.GetElapsedTime(t0).TotalSeconds;
                if (p > 0) best = Math.Max(best, _vectors * 64 / s); // pass 0 wakes the threads and warms the TLB
            }
            return best;
        }

        public void Dispose()
        {
            NativeMemory.AlignedFree(_data);
            _data = null;
        }
    }

    private struct ReadBody : IParallelBody
    {
        public Vector512<float>* Data;
        public long Vectors;
        public int Parts;
        public float Sink;

        public void Execute(int start, int end)
        {
            for (int part = start; part < end; part++)
            {
                long from = Vectors * part / Parts, to = Vectors * (part + 1) / Parts;
                // Four independent accumulators keep several loads in flight; the sum is kept so the loop is not removed.
                Vector512<float> a0 = default, a1 = default, a2 = default, a3 = default;
                long i = from;
                for (; i + 4 <= to; i += 4)
                {
                    a0 += Data[i];
                    a1 += Data[i + 1];
                    a2 += Data[i + 2];
                    a3 += Data[i + 3];
                }
                for (; i < to; i++) a0 += Data[i];
                float s = Vector512.Sum(a0 + a1 + a2 + a3);
                if (s == -1) Sink = s;
            }
        }
    }
}
