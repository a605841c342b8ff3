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
/// </remarks>
public static unsafe class MemoryBandwidth
{
    /// <summary>Default buffer: 512 MiB, well above any CPU's last-level cache.</summary>
    public const long DefaultBytes = 512L << 20;

    /// <summary>Returns the best read bandwidth in bytes per second over <paramref name="passes"/> passes.</summary>
    public static double Measure(WorkerPool pool, long bytes = DefaultBytes, int passes = 5)
    {
        ArgumentNullException.ThrowIfNull(pool);
        ArgumentOutOfRangeException.ThrowIfLessThan(bytes, 1L << 20);
        ArgumentOutOfRangeException.ThrowIfLessThan(passes, 1);
        long vectors = bytes / 64;
        var data = (Vector512<float>*)NativeMemory.AlignedAlloc((nuint)(vectors * 64), 64);
        try
        {
            // Non-zero fill so the pages are really backed (zero pages would all map one shared page).
            new Span<byte>(data, (int)Math.Min(int.MaxValue, vectors * 64)).Fill(1);
            for (long i = int.MaxValue / 64; i < vectors; i++) data[i] = Vector512<float>.One;
            int parts = pool.ThreadCount;
            double best = 0;
            var body = new ReadBody { Data = data, Vectors = vectors, Parts = parts };
            for (int p = 0; p < passes + 1; p++)
            {
                long t0 = Stopwatch.GetTimestamp();
                pool.For(parts, ref body);
                double s = Stopwatch.GetElapsedTime(t0).TotalSeconds;
                if (p > 0) best = Math.Max(best, vectors * 64 / s); // pass 0 warms up the threads and the TLB
            }
            return best;
        }
        finally
        {
            NativeMemory.AlignedFree(data);
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
