using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace SeekSharp.Numerics;

// Decode (matrix x one vector) kernels for the 32-value block types: Q4_0, Q5_0, Q8_0 (Q8_0 activations) and Q4_1, Q5_1
// (Q8_1 activations), several weight rows per pass over the activation row.
//
// The one-row kernels (LegacyDot.Signed/WithMin, Q8_0Kernel.Dot) are latency-bound: each block feeds one dependent FMA
// chain. Here four (or two) rows run side by side, each with its own accumulator, so their chains overlap, and the
// per-block activation work (loading the 32 quants, converting the f16 scale, the offset sums below) is done once for
// all rows. Per row the float operations are exactly the one-row kernel's: per block d = f16(dw) * f16(da) as one float
// product (the operands commute, the rounding is the same), acc = fma(d, float(lane), acc) for the eight 32-bit lanes of
// the block's integer dot in block order, summs = fma(m, s, summs) for Q4_1/Q5_1, then Simd.HSum8 (+ summs). Only the
// integer arithmetic differs, and integer sums are exact:
// - Q4_0/Q5_0 values are q - 8 / q - 16 with unsigned q, so a lane is sum(q*a) - off*sum(a): pmaddubsw takes q as the
//   unsigned operand directly (no sign juggling per row) and off*sum(a) is computed once per block for all rows.
// - Q8_0 keeps the one-row kernels' |w| x sign(a, w) form (valid for every weight byte including -128); -a is shared.
// - On the 512-bit path one register holds two rows (row r in the low 256 bits, row r+1 in the high 256 bits), each half
//   in the one-row 256-bit layout, so a 512-bit FMA performs both rows' 256-bit FMAs.
internal static unsafe class LegacyDecode
{
    /// <summary>True when decode rows of weight kernel <typeparamref name="T"/> run here at <paramref name="width"/>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static bool Applies<T>(int width) where T : struct, IDotKernel =>
        width >= 128 && KernelSettings.MultiRowDecode &&
        (typeof(T) == typeof(Q4_0Kernel) || typeof(T) == typeof(Q5_0Kernel) || typeof(T) == typeof(Q8_0Kernel) ||
         typeof(T) == typeof(Q4_1Kernel) || typeof(T) == typeof(Q5_1Kernel));

    /// <summary>
    /// y[r] = row r of <paramref name="w"/> · <paramref name="a"/> for r in [0, <paramref name="rows"/>), bit-identical to
    /// <typeparamref name="T"/>.Dot per row: four rows per pass, then two, then the one-row kernel.
    /// </summary>
    public static void Rows<T>(byte* w, long rowBytes, byte* a, int cols, int width, float* y, int rows) where T : struct, IDotKernel
    {
        int r = 0;
        if (width >= 128)
        {
            for (; r + 4 <= rows; r += 4)
                Pass<T, Four>(w + r * rowBytes, rowBytes, a, cols, y + r, width);
            if (r + 2 <= rows)
            {
                Pass<T, Two>(w + r * rowBytes, rowBytes, a, cols, y + r, width);
                r += 2;
            }
        }
        for (; r < rows; r++)
            y[r] = T.Dot(w + r * rowBytes, a, cols, width);
    }

    /// <summary>One pass of two or four rows at the widest path <paramref name="width"/> allows (at least 128).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Pass<T, TN>(byte* w, long rowBytes, byte* a, int cols, float* y, int width) where T : struct, IDotKernel
    {
        if (width >= 512)
            Rows512<T, TN>(w, rowBytes, a, cols, y);
        else if (width >= 256)
            Rows256<T, TN>(w, rowBytes, a, cols, y);
        else
            Rows128<T, TN>(w, rowBytes, a, cols, y);
    }

    // Row-count markers: the JIT specializes each body per marker and drops the unused rows' code.
    private struct Two;
    private struct Four;

    // ---------------------------------------------------------------- block geometry

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static bool IsQ8<T>() => typeof(T) == typeof(Q8_0Kernel);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static bool HasMin<T>() => typeof(T) == typeof(Q4_1Kernel) || typeof(T) == typeof(Q5_1Kernel);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static bool HasHigh<T>() => typeof(T) == typeof(Q5_0Kernel) || typeof(T) == typeof(Q5_1Kernel);

    /// <summary>The value subtracted from the unsigned quants (0 for the types with a min and for Q8_0).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static byte Offset<T>() => typeof(T) == typeof(Q4_0Kernel) ? (byte)8 : typeof(T) == typeof(Q5_0Kernel) ? (byte)16 : (byte)0;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static int QsOffset<T>() =>
        typeof(T) == typeof(Q8_0Kernel) ? 2 : typeof(T) == typeof(Q4_0Kernel) ? 2 : typeof(T) == typeof(Q5_0Kernel) ? 6 :
        typeof(T) == typeof(Q4_1Kernel) ? 4 : 8;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static int QhOffset<T>() => typeof(T) == typeof(Q5_0Kernel) ? 2 : 4;

    // Activation block: Q8_0 is d, 32 quants (34 bytes); Q8_1 is d, s, 32 quants (36 bytes).
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static int ActBytes<T>() => HasMin<T>() ? ActivationQuantizer.Q8_1Bytes : ActivationQuantizer.Q8_0Bytes;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static int ActQs<T>() => HasMin<T>() ? 4 : 2;

    /// <summary>The row's result: the lane sum, plus the min terms for Q4_1/Q5_1 (nothing added otherwise: x + 0 is not x for -0).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static float Finish<T>(float sum, float summs) => HasMin<T>() ? sum + summs : sum;

    // The weights are streamed once per token. Four rows read side by side are four short streams (a 4864 x 896 Q4_0
    // row is 8 cache lines) that restart every group, which the hardware prefetcher follows poorly from DRAM: single-
    // threaded A/B runs were up to 2x slower than the one-row kernel without software prefetch. So each pass prefetches
    // the next group of four rows while it runs: for small groups (up to this many bytes) as one sequential sweep over
    // the group's bytes into L1, for larger ones per row at the same block, one group ahead, into L2 only. A larger
    // group prefetched into L1 evicts the current group's lines and the activations before they are read: a 896 x 4864
    // Q8_0 product (20 KiB groups) streamed at 16 GB/s from DRAM on one thread with prefetcht0, 24 GB/s with
    // prefetcht1 (`SeekSharp.Bench.Kernels stream`). On two threads the per-row L2 prefetch also wins on mid-sized
    // groups: deepseek2's 2,048-wide Q8_0 rows (8.5 KiB groups) went from ~22 to ~31 GB/s and its decode from ~40 to
    // ~51 t/s, R1-1.5B's 1,536-wide rows (6.4 KiB) +8 % decode. The sweep stays for small groups: 3072 x 512 Q8_0
    // (2.1 KiB groups) streamed at 14.8 / 24.6 GB/s swept and 12.4 / 23.1 per row (one / two threads), and Qwen-0.5B's
    // 896-wide rows (3.7 KiB) decoded 5 % slower per row.
    // A field, not a constant, so `SeekSharp.Bench.Kernels stream --linear-bytes N` can move it.
    internal static long LinearPrefetchBytes = 4 * 1024;

    /// <summary>Prefetches the part of the next group for this block step; returns the sweep pointer.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static byte* Prefetch(byte* next, bool linear, byte* x0, byte* x1, byte* x2, byte* x3, long group, int step)
    {
        if (!Sse.IsSupported)
            return next;
        if (linear)
        {
            // Three lines from `next` cover at least `step` (at most 136) new bytes per call.
            Sse.Prefetch0(next);
            Sse.Prefetch0(next + 64);
            Sse.Prefetch0(next + 128);
            return next + step;
        }
        Sse.Prefetch1(x0 + group);
        Sse.Prefetch1(x1 + group);
        Sse.Prefetch1(x2 + group);
        Sse.Prefetch1(x3 + group);
        return next;
    }

    // ---------------------------------------------------------------- 512

    // Byte k of each 128-bit lane picks byte (k / 8) of the lane's qh (lanes 0-1: the low row's 4 qh bytes at 0..3,
    // lanes 2-3: the high row's at 4..7), and the bit k % 8 of it.
    private static readonly Vector512<byte> s_highSel512 = Vector512.Create(
        (byte)0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1, 2, 2, 2, 2, 2, 2, 2, 2, 3, 3, 3, 3, 3, 3, 3, 3,
        4, 4, 4, 4, 4, 4, 4, 4, 5, 5, 5, 5, 5, 5, 5, 5, 6, 6, 6, 6, 6, 6, 6, 6, 7, 7, 7, 7, 7, 7, 7, 7);

    private static readonly Vector512<ushort> s_shifts512 = Vector512.Create(
        (ushort)0, 0, 0, 0, 0, 0, 0, 0, 4, 4, 4, 4, 4, 4, 4, 4, 0, 0, 0, 0, 0, 0, 0, 0, 4, 4, 4, 4, 4, 4, 4, 4);

    private static readonly Vector512<float> s_hiHalf512 = Vector512.Create(Vector256<float>.Zero, Vector256<float>.AllBitsSet);

    private static readonly Vector512<byte> s_bits512 = Vector512.Create(0x8040201008040201UL).AsByte();

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Rows512<T, TN>(byte* w, long rowBytes, byte* a, int cols, float* y) where T : struct, IDotKernel
    {
        bool four = typeof(TN) == typeof(Four);
        int nb = cols / 32, bs = LegacyDot.Size<T>(), ab = ActBytes<T>(), aq = ActQs<T>();
        byte* x0 = w, x2 = w + 2 * rowBytes;
        Vector512<float> acc01 = Vector512<float>.Zero, acc23 = Vector512<float>.Zero;
        float s0 = 0, s1 = 0, s2 = 0, s3 = 0;
        // Word shift counts: 0 for the low 16 values of each row (low nibbles), 4 for the high 16 (high nibbles).
        Vector512<ushort> shifts = s_shifts512;
        Vector512<byte> sel = s_highSel512, bits = s_bits512;
        Vector512<float> hiHalf = s_hiHalf512;
        Vector512<byte> offs = Vector512.Create(Offset<T>());
        long group = 4 * rowBytes;
        bool linear = group <= LinearPrefetchBytes;
        byte* next = w + group;
        for (int i = 0; i < nb; i++, x0 += bs, x2 += bs, a += ab)
        {
            if (four)
                next = Prefetch(next, linear, x0, x0 + rowBytes, x2, x2 + rowBytes, group, 4 * bs);
            // The block's 32 activation quants in both halves, and what every row needs from them.
            // Keep this displacement small and odd-sized: .NET 10's JIT (10.0.12) encodes vbroadcasti64x4 with a
            // compressed displacement scaled wrongly, so a constant offset that is a multiple of 16 reads twice as far.
            Vector512<sbyte> act = Avx512F.BroadcastVector256ToVector512((long*)(a + aq)).AsSByte();
            Vector512<float> da = Vector512.Create(Fp16.ToFloat(a));
            Vector512<int> off = Offset<T>() != 0 ? Avx512BW.MultiplyAddAdjacent(Avx512BW.MultiplyAddAdjacent(offs, act), Vector512<short>.One) : default;
            Vector512<sbyte> neg = IsQ8<T>() ? Vector512<sbyte>.Zero - act : default;
            acc01 = Pair512<T>(x0, x0 + rowBytes, act, neg, off, da, acc01, shifts, sel, bits, hiHalf);
            if (four)
                acc23 = Pair512<T>(x2, x2 + rowBytes, act, neg, off, da, acc23, shifts, sel, bits, hiHalf);
            if (HasMin<T>())
            {
                float sa = Fp16.ToFloat(a + 2);
                s0 = MathF.FusedMultiplyAdd(Fp16.ToFloat(x0 + 2), sa, s0);
                s1 = MathF.FusedMultiplyAdd(Fp16.ToFloat(x0 + rowBytes + 2), sa, s1);
                if (four)
                {
                    s2 = MathF.FusedMultiplyAdd(Fp16.ToFloat(x2 + 2), sa, s2);
                    s3 = MathF.FusedMultiplyAdd(Fp16.ToFloat(x2 + rowBytes + 2), sa, s3);
                }
            }
        }
        y[0] = Finish<T>(Simd.HSum8(acc01.GetLower()), s0);
        y[1] = Finish<T>(Simd.HSum8(acc01.GetUpper()), s1);
        if (four)
        {
            y[2] = Finish<T>(Simd.HSum8(acc23.GetLower()), s2);
            y[3] = Finish<T>(Simd.HSum8(acc23.GetUpper()), s3);
        }
    }

    /// <summary>One block of rows <paramref name="x0"/> (low half) and <paramref name="x1"/> (high half).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector512<float> Pair512<T>(byte* x0, byte* x1, Vector512<sbyte> act, Vector512<sbyte> neg, Vector512<int> off,
        Vector512<float> da, Vector512<float> acc, Vector512<ushort> shifts, Vector512<byte> sel, Vector512<byte> bits, Vector512<float> hiHalf)
    {
        Vector512<int> p;
        if (IsQ8<T>())
        {
            Vector512<sbyte> q = Simd.Join(Vector256.Load((sbyte*)(x0 + 2)), Vector256.Load((sbyte*)(x1 + 2)));
            Vector512<sbyte> sy = Vector512.ConditionalSelect(Vector512.LessThan(q, Vector512<sbyte>.Zero), neg, act);
            p = Avx512BW.MultiplyAddAdjacent(Avx512BW.MultiplyAddAdjacent(Avx512BW.Abs(q), sy), Vector512<short>.One);
        }
        else
        {
            // [qs0 | qs0 | qs1 | qs1] (two broadcast loads, one insert), then low nibbles in the first copy of each row and
            // high nibbles in the second.
            Vector512<byte> dup = Simd.Join(Avx2.BroadcastVector128ToVector256(x0 + QsOffset<T>()), Avx2.BroadcastVector128ToVector256(x1 + QsOffset<T>()));
            Vector512<byte> q = Avx512BW.ShiftRightLogicalVariable(dup.AsUInt16(), shifts).AsByte() & Vector512.Create((byte)0x0F);
            if (HasHigh<T>())
            {
                ulong qh = Unsafe.ReadUnaligned<uint>(x0 + QhOffset<T>()) | (ulong)Unsafe.ReadUnaligned<uint>(x1 + QhOffset<T>()) << 32;
                Vector512<byte> h = Avx512BW.Shuffle(Vector512.Create(qh).AsByte(), sel) & bits;
                q |= Vector512.Equals(h, bits) & Vector512.Create((byte)0x10);
            }
            p = Avx512BW.MultiplyAddAdjacent(Avx512BW.MultiplyAddAdjacent(q, act), Vector512<short>.One);
            if (Offset<T>() != 0)
                p -= off;
        }
        // [dw0 x 8 | dw1 x 8] from two broadcast loads and a blend, times da: lane by lane the one-row kernel's dw * da.
        Vector512<float> d = Vector512.ConditionalSelect(hiHalf, Vector512.Create(Fp16.ToFloat(x1)), Vector512.Create(Fp16.ToFloat(x0))) * da;
        return Avx512F.FusedMultiplyAdd(d, Vector512.ConvertToSingle(p), acc);
    }

    // ---------------------------------------------------------------- 256

    private static readonly Vector256<byte> s_highSel256 = Vector256.Create(
        (byte)0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1, 2, 2, 2, 2, 2, 2, 2, 2, 3, 3, 3, 3, 3, 3, 3, 3);

    private static readonly Vector256<byte> s_bits256 = Vector256.Create(0x8040201008040201UL).AsByte();

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Rows256<T, TN>(byte* w, long rowBytes, byte* a, int cols, float* y) where T : struct, IDotKernel
    {
        bool four = typeof(TN) == typeof(Four);
        int nb = cols / 32, bs = LegacyDot.Size<T>(), ab = ActBytes<T>(), aq = ActQs<T>();
        byte* x0 = w, x1 = w + rowBytes, x2 = w + 2 * rowBytes, x3 = w + 3 * rowBytes;
        Vector256<float> acc0 = Vector256<float>.Zero, acc1 = Vector256<float>.Zero, acc2 = Vector256<float>.Zero, acc3 = Vector256<float>.Zero;
        float s0 = 0, s1 = 0, s2 = 0, s3 = 0;
        Vector256<byte> sel = s_highSel256, bits = s_bits256;
        Vector256<byte> offs = Vector256.Create(Offset<T>());
        long group = 4 * rowBytes;
        bool linear = group <= LinearPrefetchBytes;
        byte* next = w + group;
        for (int i = 0; i < nb; i++, x0 += bs, x1 += bs, x2 += bs, x3 += bs, a += ab)
        {
            if (four)
                next = Prefetch(next, linear, x0, x1, x2, x3, group, 4 * bs);
            Vector256<sbyte> act = Vector256.Load((sbyte*)(a + aq));
            float da = Fp16.ToFloat(a);
            Vector256<int> off = Offset<T>() != 0 ? Avx2.MultiplyAddAdjacent(Avx2.MultiplyAddAdjacent(offs, act), Vector256<short>.One) : default;
            acc0 = Row256<T>(x0, act, off, da, acc0, sel, bits);
            acc1 = Row256<T>(x1, act, off, da, acc1, sel, bits);
            if (four)
            {
                acc2 = Row256<T>(x2, act, off, da, acc2, sel, bits);
                acc3 = Row256<T>(x3, act, off, da, acc3, sel, bits);
            }
            if (HasMin<T>())
            {
                float sa = Fp16.ToFloat(a + 2);
                s0 = MathF.FusedMultiplyAdd(Fp16.ToFloat(x0 + 2), sa, s0);
                s1 = MathF.FusedMultiplyAdd(Fp16.ToFloat(x1 + 2), sa, s1);
                if (four)
                {
                    s2 = MathF.FusedMultiplyAdd(Fp16.ToFloat(x2 + 2), sa, s2);
                    s3 = MathF.FusedMultiplyAdd(Fp16.ToFloat(x3 + 2), sa, s3);
                }
            }
        }
        y[0] = Finish<T>(Simd.HSum8(acc0), s0);
        y[1] = Finish<T>(Simd.HSum8(acc1), s1);
        if (four)
        {
            y[2] = Finish<T>(Simd.HSum8(acc2), s2);
            y[3] = Finish<T>(Simd.HSum8(acc3), s3);
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<float> Row256<T>(byte* x, Vector256<sbyte> act, Vector256<int> off, float da, Vector256<float> acc,
        Vector256<byte> sel, Vector256<byte> bits)
    {
        Vector256<int> p;
        if (IsQ8<T>())
            p = Simd.DotS8(Vector256.Load((sbyte*)(x + 2)), act);
        else
        {
            Vector128<byte> qs = Vector128.Load(x + QsOffset<T>());
            Vector256<byte> q = Simd.Join(qs & Vector128.Create((byte)0x0F), Simd.Shr(qs, 4));
            if (HasHigh<T>())
            {
                Vector256<byte> h = Avx2.Shuffle(Vector256.Create(Unsafe.ReadUnaligned<uint>(x + QhOffset<T>())).AsByte(), sel) & bits;
                q |= Vector256.Equals(h, bits) & Vector256.Create((byte)0x10);
            }
            p = Avx2.MultiplyAddAdjacent(Avx2.MultiplyAddAdjacent(q, act), Vector256<short>.One);
            if (Offset<T>() != 0)
                p -= off;
        }
        return Fma.MultiplyAdd(Vector256.Create(Fp16.ToFloat(x) * da), Vector256.ConvertToSingle(p), acc);
    }

    // ---------------------------------------------------------------- 128

    // Two accumulators per row, values 0-15 and 16-31, as in the one-row 128-bit paths; Simd's 128-bit helpers keep the
    // portable (non-SSSE3) form working.
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Rows128<T, TN>(byte* w, long rowBytes, byte* a, int cols, float* y) where T : struct, IDotKernel
    {
        bool four = typeof(TN) == typeof(Four);
        int nb = cols / 32, bs = LegacyDot.Size<T>(), ab = ActBytes<T>(), aq = ActQs<T>();
        byte* x0 = w, x1 = w + rowBytes, x2 = w + 2 * rowBytes, x3 = w + 3 * rowBytes;
        Vector128<float> lo0 = default, hi0 = default, lo1 = default, hi1 = default, lo2 = default, hi2 = default, lo3 = default, hi3 = default;
        float s0 = 0, s1 = 0, s2 = 0, s3 = 0;
        Vector128<byte> offs = Vector128.Create(Offset<T>());
        long group = 4 * rowBytes;
        bool linear = group <= LinearPrefetchBytes;
        byte* next = w + group;
        for (int i = 0; i < nb; i++, x0 += bs, x1 += bs, x2 += bs, x3 += bs, a += ab)
        {
            if (four)
                next = Prefetch(next, linear, x0, x1, x2, x3, group, 4 * bs);
            Vector128<sbyte> a0 = Vector128.Load((sbyte*)(a + aq)), a1 = Vector128.Load((sbyte*)(a + aq + 16));
            float da = Fp16.ToFloat(a);
            Vector128<int> off0 = default, off1 = default;
            if (Offset<T>() != 0)
            {
                off0 = Simd.MAdd(Simd.MulPairs(offs, a0), Vector128<short>.One);
                off1 = Simd.MAdd(Simd.MulPairs(offs, a1), Vector128<short>.One);
            }
            Row128<T>(x0, a0, a1, off0, off1, da, ref lo0, ref hi0);
            Row128<T>(x1, a0, a1, off0, off1, da, ref lo1, ref hi1);
            if (four)
            {
                Row128<T>(x2, a0, a1, off0, off1, da, ref lo2, ref hi2);
                Row128<T>(x3, a0, a1, off0, off1, da, ref lo3, ref hi3);
            }
            if (HasMin<T>())
            {
                float sa = Fp16.ToFloat(a + 2);
                s0 = MathF.FusedMultiplyAdd(Fp16.ToFloat(x0 + 2), sa, s0);
                s1 = MathF.FusedMultiplyAdd(Fp16.ToFloat(x1 + 2), sa, s1);
                if (four)
                {
                    s2 = MathF.FusedMultiplyAdd(Fp16.ToFloat(x2 + 2), sa, s2);
                    s3 = MathF.FusedMultiplyAdd(Fp16.ToFloat(x3 + 2), sa, s3);
                }
            }
        }
        y[0] = Finish<T>(Simd.HSum8(lo0, hi0), s0);
        y[1] = Finish<T>(Simd.HSum8(lo1, hi1), s1);
        if (four)
        {
            y[2] = Finish<T>(Simd.HSum8(lo2, hi2), s2);
            y[3] = Finish<T>(Simd.HSum8(lo3, hi3), s3);
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Row128<T>(byte* x, Vector128<sbyte> a0, Vector128<sbyte> a1, Vector128<int> off0, Vector128<int> off1, float da,
        ref Vector128<float> lo, ref Vector128<float> hi)
    {
        Vector128<int> p0, p1;
        if (IsQ8<T>())
        {
            p0 = Simd.DotS8(Vector128.Load((sbyte*)(x + 2)), a0);
            p1 = Simd.DotS8(Vector128.Load((sbyte*)(x + 18)), a1);
        }
        else
        {
            Vector128<byte> qs = Vector128.Load(x + QsOffset<T>());
            Vector128<byte> v0 = qs & Vector128.Create((byte)0x0F), v1 = Simd.Shr(qs, 4);
            if (HasHigh<T>())
            {
                Vector256<byte> h = BlockTables.HighBits(x + QhOffset<T>());
                v0 |= h.GetLower();
                v1 |= h.GetUpper();
            }
            p0 = Simd.MAdd(Simd.MulPairs(v0, a0), Vector128<short>.One);
            p1 = Simd.MAdd(Simd.MulPairs(v1, a1), Vector128<short>.One);
            if (Offset<T>() != 0)
            {
                p0 -= off0;
                p1 -= off1;
            }
        }
        Vector128<float> d = Vector128.Create(Fp16.ToFloat(x) * da);
        lo = Vector128.FusedMultiplyAdd(d, Vector128.ConvertToSingle(p0), lo);
        hi = Vector128.FusedMultiplyAdd(d, Vector128.ConvertToSingle(p1), hi);
    }
}
