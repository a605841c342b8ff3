using System.Diagnostics;

namespace SeekSharp.Bench.Kernels;

/// <summary>Shared A/B timing: alternate two variants, each sample long enough to be measurable, medians.</summary>
internal static class BenchTiming
{
    /// <summary>How many calls of <paramref name="op"/> take about <paramref name="targetMs"/> milliseconds (at least 1).</summary>
    public static int Calibrate(Action op, double targetMs)
    {
        op();
        var sw = Stopwatch.StartNew();
        int n = 0;
        while (sw.Elapsed.TotalMilliseconds < targetMs / 4 || n < 1)
        {
            op();
            n++;
        }
        return Math.Max(1, (int)Math.Ceiling(n * targetMs / sw.Elapsed.TotalMilliseconds));
    }

    /// <summary>Seconds per call of <paramref name="op"/> over <paramref name="reps"/> calls.</summary>
    public static double Time(Action op, int reps)
    {
        long t0 = Stopwatch.GetTimestamp();
        for (int i = 0; i < reps; i++)
            op();
        return Stopwatch.GetElapsedTime(t0).TotalSeconds / reps;
    }

    /// <summary>
    /// Runs <paramref name="setOld"/>+op and <paramref name="setNew"/>+op alternately <paramref name="runs"/> times (the
    /// side that goes first alternates too); returns the per-run seconds per call of each side.
    /// </summary>
    public static (double[] Old, double[] New) AB(Action op, Action setOld, Action setNew, int runs, double targetMs)
    {
        // Warm up both sides first so the timed code is the JIT's final (tier-1) code.
        for (int k = 0; k < 3; k++)
        {
            setOld(); Calibrate(op, targetMs);
            setNew(); Calibrate(op, targetMs);
        }
        setOld();
        int repsOld = Calibrate(op, targetMs);
        setNew();
        int repsNew = Calibrate(op, targetMs);
        var o = new double[runs];
        var n = new double[runs];
        for (int r = 0; r < runs; r++)
        {
            if ((r & 1) == 0)
            {
                setOld(); o[r] = Time(op, repsOld);
                setNew(); n[r] = Time(op, repsNew);
            }
            else
            {
                setNew(); n[r] = Time(op, repsNew);
                setOld(); o[r] = Time(op, repsOld);
            }
        }
        return (o, n);
    }

    /// <summary>Two different operations timed alternately (see <see cref="AB(Action, Action, Action, int, double)"/>).</summary>
    public static (double[] Old, double[] New) AB(Action oldOp, Action newOp, int runs, double targetMs)
    {
        Action op = oldOp;
        return AB(() => op(), () => op = oldOp, () => op = newOp, runs, targetMs);
    }

    public static double Median(IEnumerable<double> values)
    {
        double[] v = values.ToArray();
        Array.Sort(v);
        int m = v.Length / 2;
        return v.Length % 2 == 1 ? v[m] : (v[m - 1] + v[m]) / 2;
    }
}
