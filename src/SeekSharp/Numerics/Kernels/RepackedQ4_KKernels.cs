using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace SeekSharp.Numerics;

/// <summary>
/// Q4_K x Q8_K in llama.cpp's repacked order (what ggml_gemv / ggml_gemm_q4_K_8x8_q8_K compute with "repack on"), on our
/// own 16-row interleaved layout. Per (row, token): acc = accMin = 0; per super-block and per group of sub-blocks (gemv
/// grouping: all 8 at once; gemm grouping: pairs 2g, 2g+1) isum = sum_j sc_j * dot_j and imin = sum_j m_j * bsum_j as
/// exact ints, then acc = fma(isum, fl(d * d_a), acc) and accMin = fma(imin, fl(dmin * d_a), accMin); result acc - accMin.
/// </summary>
/// <remarks>
/// Layout: rows in groups of 16 (a last group of fewer rows is padded with zero rows). Per (group, super-block) 37 units
/// of 64 bytes (2368 bytes; the original 16 blocks take 2304: the 6-bit scales and mins are unpacked to bytes):
/// <list type="bullet">
/// <item>unit 0: the 16 rows' f16 d, then their f16 dmin;</item>
/// <item>units 1-2: scales (sub-blocks 0-3, then 4-7); in 128-bit lane L, byte 4*jj + i is the scale of sub-block jj of
/// row 4L + i, so one in-lane byte shuffle spreads a sub-block's scales to the rows' int32 lanes at every vector width;
/// units 3-4: the mins, same layout;</item>
/// <item>units 5-36: the nibbles, per sub-block pair k (0-3) and chunk c (0-7) unit 5 + 8k + c, whose 32-bit lane r holds
/// bytes [32k + 4c, +4) of row r's qs: low nibbles are values 4c..4c+3 of sub-block 2k, high nibbles those of 2k + 1.</item>
/// </list>
/// Groups 2p and 2p + 1 are stored interleaved unit by unit (per super-block 4736 bytes: group 2p's unit u at 128u, group
/// 2p + 1's at 128u + 64), so decode, which works on both at once, reads one ascending stream: two streams (or two
/// fronts in one stream) ran at about half the DRAM bandwidth. A last group without a partner has its units back to back.
/// One 512-bit load then gives 16 rows x 4 values, multiplied against 4 broadcast activation bytes (pmaddubsw: unsigned
/// nibbles, pair sums exact in int16 over a sub-block), and pmaddwd against the per-lane scale gives sc_j * dot_j in int32.
/// Integer work is reordered freely; the float operations are exactly the model's.
/// </remarks>
internal static unsafe class RepackedQ4_K
{
    public const int GroupRows = 16;

    /// <summary>Bytes per (16-row group, super-block) tile.</summary>
    public const int TileBytes = 2368;

    /// <summary>64-byte units per (group, super-block).</summary>
    private const int Units = TileBytes / 64;

    /// <summary>
    /// Prefill works on row tiles of about this many weight bytes (kept in L2 while 8 then 4 tokens at a time run over
    /// them). A switch for measurements; no effect on results.
    /// </summary>
    public static int PrefillTileBytes = 512 << 10;

    private const int QK = 256, BlockBytes = 144, ActBytes = 292, PrepBytes = 16;
    // unit indices
    private const int UD = 0, USc = 1, UMin = 3, UQs = 5;

    // pshufb indices (same in every 128-bit lane). Scale of sub-block jj: row i gets (sc, 0, sc, 0), i.e. the int16 pair
    // (sc, sc), so pmaddwd of a lane's two int16 partial dots gives sc * dot. Mins of the pair (2kk, 2kk + 1) within a
    // 4-sub-block vector: (m0, 0, m1, 0), the int16 pair (m_2k, m_2k+1), against a broadcast (bsum pair 2k, bsum pair 2k+1).
    private static readonly Vector512<byte> s_sc0 = ScaleIndex(0), s_sc1 = ScaleIndex(1), s_sc2 = ScaleIndex(2), s_sc3 = ScaleIndex(3);
    private static readonly Vector512<byte> s_mn0 = MinIndex(0), s_mn1 = MinIndex(1);

    private static Vector512<byte> ScaleIndex(int jj)
    {
        var b = new byte[64];
        for (int lane = 0; lane < 4; lane++)
            for (int i = 0; i < 4; i++)
            {
                int o = 16 * lane + 4 * i;
                b[o] = b[o + 2] = (byte)(4 * jj + i);
                b[o + 1] = b[o + 3] = 0x80;
            }
        return Vector512.Create((ReadOnlySpan<byte>)b);
    }

    private static Vector512<byte> MinIndex(int kk)
    {
        var b = new byte[64];
        for (int lane = 0; lane < 4; lane++)
            for (int i = 0; i < 4; i++)
            {
                int o = 16 * lane + 4 * i;
                b[o] = (byte)(4 * (2 * kk) + i);
                b[o + 2] = (byte)(4 * (2 * kk + 1) + i);
                b[o + 1] = b[o + 3] = 0x80;
            }
        return Vector512.Create((ReadOnlySpan<byte>)b);
    }

    // ---------------------------------------------------------------- packing

    /// <summary>
    /// Unit 0 of group g's first super-block, the distance between its super-blocks (<paramref name="stride"/>) and
    /// between its units (<paramref name="us"/>: 128 inside a stored pair, 64 for a lone last group).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static byte* GroupTiles(byte* packed, int rows, int nb, int g, out long stride, out int us)
    {
        int groups = (rows + GroupRows - 1) / GroupRows;
        byte* pair = packed + (long)(g & ~1) * nb * TileBytes;
        if ((g | 1) < groups)
        {
            stride = 2 * TileBytes;
            us = 128;
            return pair + (g & 1) * 64;
        }
        stride = TileBytes;
        us = 64;
        return pair;
    }

    /// <summary>Bytes of the packed form: ceil(rows / 16) groups of cols / 256 tiles.</summary>
    public static long PackedBytes(int rows, int cols) => (long)((rows + GroupRows - 1) / GroupRows) * (cols / QK) * TileBytes;

    /// <summary>
    /// Fills groups [groupStart, groupEnd) of <paramref name="dst"/> (<see cref="PackedBytes"/> bytes, best 64-byte
    /// aligned) from the row-major Q4_K matrix <paramref name="src"/> (row r at src + r * (cols / 256 * 144)); rows past
    /// <paramref name="rows"/> become zero rows. Writes only those groups' 64-byte units, so threads may pack disjoint
    /// group ranges of one matrix at once.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Pack(byte* src, int rows, int cols, byte* dst, int groupStart, int groupEnd)
    {
        int nb = cols / QK;
        long rowBytes = (long)nb * BlockBytes;
        for (int g = groupStart; g < groupEnd; g++)
        {
            byte* t0 = GroupTiles(dst, rows, nb, g, out long stride, out int us);
            for (int b = 0; b < nb; b++)
            {
                byte* t = t0 + b * stride;
                for (int u = 0; u < Units; u++)
                    new Span<byte>(t + u * us, 64).Clear();
                for (int r = 0; r < GroupRows; r++)
                {
                    int row = g * GroupRows + r;
                    if (row >= rows)
                        break;
                    byte* s = src + row * rowBytes + b * BlockBytes;
                    *(ushort*)(t + UD * us + 2 * r) = *(ushort*)s;
                    *(ushort*)(t + UD * us + 32 + 2 * r) = *(ushort*)(s + 2);
                    for (int j = 0; j < 8; j++)
                    {
                        (int sc, int mn) = ScaleMin(s + 4, j);
                        int o = 16 * (r >> 2) + 4 * (j & 3) + (r & 3);
                        t[(USc + (j >> 2)) * us + o] = (byte)sc;
                        t[(UMin + (j >> 2)) * us + o] = (byte)mn;
                    }
                    for (int k = 0; k < 4; k++)
                        for (int c = 0; c < 8; c++)
                            *(uint*)(t + (UQs + 8 * k + c) * us + 4 * r) = *(uint*)(s + 16 + 32 * k + 4 * c);
                }
            }
        }
    }

    /// <summary>The 6-bit scale and min of sub-block j (ggml's get_scale_min_k4).</summary>
    private static (int Scale, int Min) ScaleMin(byte* s, int j) => j < 4
        ? (s[j] & 63, s[j + 4] & 63)
        : ((s[j + 4] & 0xF) | ((s[j - 4] >> 6) << 4), (s[j + 4] >> 4) | ((s[j] >> 6) << 4));

    // ---------------------------------------------------------------- activations

    /// <summary>Scratch bytes for <see cref="Prepare"/>: 16 per (token, super-block).</summary>
    public static long PrepareBytes(int cols, int n) => (long)n * (cols / QK) * PrepBytes;

    /// <summary>
    /// For tokens [tokenStart, tokenEnd) of n: per super-block the eight int16 sums bsum_2j + bsum_2j+1 (the 32-value
    /// sub-block sums the mins multiply), token t's at prep + t * (cols / 256) * 16.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Prepare(byte* act, long actRow, int n, int cols, byte* prep, int tokenStart, int tokenEnd)
    {
        int nb = cols / QK;
        for (int t = tokenStart; t < tokenEnd; t++)
            for (int b = 0; b < nb; b++)
            {
                short* bs = (short*)(act + t * actRow + b * ActBytes + 4 + QK);
                short* p = (short*)(prep + ((long)t * nb + b) * PrepBytes);
                for (int j = 0; j < 8; j++)
                    p[j] = (short)(bs[2 * j] + bs[2 * j + 1]);
            }
    }

    // ---------------------------------------------------------------- entry

    private struct Gemv;
    private struct Gemm;
    private struct Four;
    private struct Eight;
    private struct One;
    private struct Two;
    private struct U64;
    private struct U128;

    /// <summary>
    /// y[t * yStride + r] for tokens t in [0, n) and rows r in [groupStart * 16, min(rows, groupEnd * 16)).
    /// <paramref name="gemmGrouping"/> picks the sub-block-pair grouping (llama.cpp's gemm) for all n tokens, else the
    /// whole-super-block grouping (gemv). <paramref name="prep"/> must hold <see cref="Prepare"/>'s output for the n tokens
    /// (unused by the scalar path). <paramref name="width"/>: 512, 256, 128 or 0. Ranges that start on an even group
    /// decode fastest (a stored pair of groups runs as one stream).
    /// </summary>
    public static void Multiply(byte* packed, int rows, int cols, byte* act, long actRow, byte* prep, int n,
        float* y, long yStride, int groupStart, int groupEnd, bool gemmGrouping, int width)
    {
        if (width >= 512)
        {
            if (gemmGrouping) Multiply512<Gemm>(packed, rows, cols, act, actRow, prep, n, y, yStride, groupStart, groupEnd);
            else Multiply512<Gemv>(packed, rows, cols, act, actRow, prep, n, y, yStride, groupStart, groupEnd);
            return;
        }
        int nb = cols / QK;
        for (int g = groupStart; g < groupEnd; g++)
        {
            byte* w = GroupTiles(packed, rows, nb, g, out long stride, out int us);
            int valid = Math.Min(GroupRows, rows - g * GroupRows);
            for (int t = 0; t < n; t++)
            {
                byte* a = act + t * actRow;
                byte* p = prep + (long)t * nb * PrepBytes;
                float* yo = y + t * yStride + g * GroupRows;
                if (width >= 256)
                {
                    for (int h = 0; h < 2; h++)
                    {
                        if (gemmGrouping) Group256<Gemm>(w, stride, us, nb, a, p, yo, h, valid);
                        else Group256<Gemv>(w, stride, us, nb, a, p, yo, h, valid);
                    }
                }
                else if (width >= 128)
                {
                    for (int q = 0; q < 4; q++)
                    {
                        if (gemmGrouping) Group128<Gemm>(w, stride, us, nb, a, p, yo, q, valid);
                        else Group128<Gemv>(w, stride, us, nb, a, p, yo, q, valid);
                    }
                }
                else
                {
                    for (int r = 0; r < valid; r++)
                        yo[r] = ScalarRow(w, stride, us, nb, a, r, gemmGrouping);
                }
            }
        }
    }

    // ---------------------------------------------------------------- scalar

    /// <summary>One row of a group, one token: the model itself, read from the packed tiles.</summary>
    private static float ScalarRow(byte* w, long stride, int us, int nb, byte* a, int r, bool gemm)
    {
        int group = gemm ? 2 : 8;
        float acc = 0f, accMin = 0f;
        for (int b = 0; b < nb; b++, w += stride, a += ActBytes)
        {
            float da = *(float*)a;
            float dd = Fp16.ToFloat(*(ushort*)(w + UD * us + 2 * r)) * da;
            float dm = Fp16.ToFloat(*(ushort*)(w + UD * us + 32 + 2 * r)) * da;
            short* bs = (short*)(a + 4 + QK);
            int isum = 0, imin = 0;
            for (int j = 0; j < 8; j++)
            {
                int o = 16 * (r >> 2) + 4 * (j & 3) + (r & 3);
                int sub = 0;
                for (int c = 0; c < 8; c++)
                {
                    byte* q = w + (UQs + (j >> 1) * 8 + c) * us + 4 * r;
                    sbyte* x = (sbyte*)(a + 4 + 32 * j + 4 * c);
                    for (int e = 0; e < 4; e++)
                        sub += ((q[e] >> (4 * (j & 1))) & 0xF) * x[e];
                }
                isum += w[(USc + (j >> 2)) * us + o] * sub;
                imin += w[(UMin + (j >> 2)) * us + o] * (bs[2 * j] + bs[2 * j + 1]);
                if ((j + 1) % group == 0)
                {
                    acc = MathF.FusedMultiplyAdd(isum, dd, acc);
                    accMin = MathF.FusedMultiplyAdd(imin, dm, accMin);
                    isum = imin = 0;
                }
            }
        }
        return acc - accMin;
    }

    // ---------------------------------------------------------------- 128 (correctness path; 4 rows per pass)

    private static Vector128<byte> Shuffle128(Vector128<byte> v, Vector128<byte> idx) =>
        Ssse3.IsSupported && KernelSettings.UseX86Helpers128 ? Ssse3.Shuffle(v, idx) : Vector128.Shuffle(v, idx);

    private static void Group128<TG>(byte* w, long stride, int us, int nb, byte* a, byte* prep, float* y, int q, int valid)
    {
        if (4 * q >= valid)
            return;
        bool gemm = typeof(TG) == typeof(Gemm);
        var m = Vector128.Create((byte)0x0F);
        Vector128<float> acc = default, accMin = default;
        int lane = 16 * q;
        for (int b = 0; b < nb; b++, w += stride, a += ActBytes, prep += PrepBytes)
        {
            var da = Vector128.Create(*(float*)a);
            var dd = Fp16.ToFloat(Vector64.Load((ushort*)(w + UD * us) + 4 * q)) * da;
            var dm = Fp16.ToFloat(Vector64.Load((ushort*)(w + UD * us + 32) + 4 * q)) * da;
            Vector128<int> isum = default, imin = default;
            for (int j = 0; j < 8; j++)
            {
                int sh = 4 * (j & 1);
                Vector128<short> p = default;
                for (int c = 0; c < 8; c++)
                {
                    var v = Vector128.Load(w + (UQs + (j >> 1) * 8 + c) * us + lane);
                    var nib = (v.AsUInt16() >>> sh).AsByte() & m;
                    p += Simd.MulPairs(nib, Vector128.Create(*(int*)(a + 4 + 32 * j + 4 * c)).AsSByte());
                }
                var idx = (j & 3) switch { 0 => s_sc0, 1 => s_sc1, 2 => s_sc2, _ => s_sc3 };
                var sc = Shuffle128(Vector128.Load(w + (USc + (j >> 2)) * us + lane), idx.GetLower().GetLower());
                isum += Simd.MAdd(p, sc.AsInt16());
                if ((j & 1) == 1)
                {
                    var mi = (((j >> 1) & 1) == 0 ? s_mn0 : s_mn1).GetLower().GetLower();
                    var mn = Shuffle128(Vector128.Load(w + (UMin + (j >> 2)) * us + lane), mi);
                    imin += Simd.MAdd(mn.AsInt16(), Vector128.Create(*(int*)(prep + 4 * (j >> 1))).AsInt16());
                }
                if (gemm ? (j & 1) == 1 : j == 7)
                {
                    acc = Vector128.FusedMultiplyAdd(Vector128.ConvertToSingle(isum), dd, acc);
                    accMin = Vector128.FusedMultiplyAdd(Vector128.ConvertToSingle(imin), dm, accMin);
                    isum = imin = default;
                }
            }
        }
        var r = acc - accMin;
        if (valid - 4 * q >= 4)
            r.Store(y + 4 * q);
        else
            for (int i = 0; i < valid - 4 * q; i++)
                y[4 * q + i] = r.GetElement(i);
    }

    // ---------------------------------------------------------------- 256 (correctness path; 8 rows per pass)

    private static void Group256<TG>(byte* w, long stride, int us, int nb, byte* a, byte* prep, float* y, int h, int valid)
    {
        if (8 * h >= valid)
            return;
        bool gemm = typeof(TG) == typeof(Gemm);
        var m = Vector256.Create((byte)0x0F);
        Vector256<float> acc = default, accMin = default;
        int lane = 32 * h;
        for (int b = 0; b < nb; b++, w += stride, a += ActBytes, prep += PrepBytes)
        {
            var da = Vector256.Create(*(float*)a);
            var dd = Fp16.ToFloat(Vector128.Load((ushort*)(w + UD * us) + 8 * h)) * da;
            var dm = Fp16.ToFloat(Vector128.Load((ushort*)(w + UD * us + 32) + 8 * h)) * da;
            Vector256<int> isum = default, imin = default;
            for (int j = 0; j < 8; j++)
            {
                int sh = 4 * (j & 1);
                Vector256<short> p = default;
                for (int c = 0; c < 8; c++)
                {
                    var v = Vector256.Load(w + (UQs + (j >> 1) * 8 + c) * us + lane);
                    var nib = (v.AsUInt16() >>> sh).AsByte() & m;
                    p += Avx2.MultiplyAddAdjacent(nib, Vector256.Create(*(int*)(a + 4 + 32 * j + 4 * c)).AsSByte());
                }
                var idx = (j & 3) switch { 0 => s_sc0, 1 => s_sc1, 2 => s_sc2, _ => s_sc3 };
                var sc = Avx2.Shuffle(Vector256.Load(w + (USc + (j >> 2)) * us + lane), idx.GetLower());
                isum += Avx2.MultiplyAddAdjacent(p, sc.AsInt16());
                if ((j & 1) == 1)
                {
                    var mi = (((j >> 1) & 1) == 0 ? s_mn0 : s_mn1).GetLower();
                    var mn = Avx2.Shuffle(Vector256.Load(w + (UMin + (j >> 2)) * us + lane), mi);
                    imin += Avx2.MultiplyAddAdjacent(mn.AsInt16(), Vector256.Create(*(int*)(prep + 4 * (j >> 1))).AsInt16());
                }
                if (gemm ? (j & 1) == 1 : j == 7)
                {
                    acc = Fma.MultiplyAdd(Vector256.ConvertToSingle(isum), dd, acc);
                    accMin = Fma.MultiplyAdd(Vector256.ConvertToSingle(imin), dm, accMin);
                    isum = imin = default;
                }
            }
        }
        var r = acc - accMin;
        if (valid - 8 * h >= 8)
            r.Store(y + 8 * h);
        else
            for (int i = 0; i < valid - 8 * h; i++)
                y[8 * h + i] = r.GetElement(i);
    }

    // ---------------------------------------------------------------- 512

    /// <summary>
    /// When true, decode (and prefill's first pass over a row tile) prefetches one super-block ahead in its stream: the
    /// hardware prefetcher alone left single-thread decode from DRAM at about half the speed (8-9 GB/s against 15-18
    /// with it; 1.1x also from L3). No effect on results.
    /// </summary>
    public static bool Prefetch = true;

    /// <summary>How many super-blocks ahead decode prefetches (1: the next one). A tuning knob for the kernel bench.</summary>
    public static int PrefetchSuperBlocks = 1;

    /// <summary>Prefetch into L2 (prefetcht1) instead of L1 (prefetcht0). A tuning knob for the kernel bench.</summary>
    public static bool PrefetchToL2;

    /// <summary>One prefetch at the level <see cref="PrefetchToL2"/> picks.</summary>
    /// <remarks>
    /// The level is read from a field on purpose: the JIT then places the prefetcht0 out of line behind a taken branch,
    /// and that form streams from DRAM about 1.3x faster than the same prefetcht0 in line (single thread, deepseek2
    /// shapes, `SeekSharp.Bench.Kernels stream --model ds2k --type q4_k --packed --threads 1`: 17-19 GB/s in line,
    /// 22.5-23 GB/s out of line; 48-50 GB/s from cache either way; R1-1.5B Q4_K_M decode 26.9 -> 30 t/s median of
    /// six alternating runs). Writing the branch the other way round (prefetcht0 in line) measured as slow as no
    /// branch. Our reading is that the redirects pace the prefetches behind the demand loads of the current
    /// super-block instead of competing with them for the L1 miss buffers; prefetching into L2 instead, or further
    /// ahead, or fewer lines, all measured slower.
    /// </remarks>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void PrefetchLine(byte* p)
    {
        if (PrefetchToL2) Sse.Prefetch1(p); else Sse.Prefetch0(p);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static int Us<TU>() => typeof(TU) == typeof(U128) ? 128 : 64;

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Multiply512<TG>(byte* packed, int rows, int cols, byte* act, long actRow, byte* prep, int n,
        float* y, long yStride, int groupStart, int groupEnd)
    {
        int nb = cols / QK;
        long prepRow = (long)nb * PrepBytes;
        if (n == 1)
        {
            Decode512<TG>(packed, rows, nb, act, prep, y, groupStart, groupEnd);
            return;
        }
        // Row tiles of whole pairs, so the leftover single tokens decode pairs.
        int tileGroups = Math.Max(2, PrefillTileBytes / (int)Math.Min(int.MaxValue, (long)nb * TileBytes)) & ~1;
        for (int g0 = groupStart; g0 < groupEnd;)
        {
            int g1 = Math.Min(groupEnd, ((g0 + tileGroups) & ~1));
            if (g1 <= g0) g1 = Math.Min(groupEnd, g0 + 2);
            int t = 0;
            for (; t + 8 <= n; t += 8)
                for (int g = g0; g < g1; g++)
                    Tokens512<TG, Eight>(packed, rows, nb, g, act + t * actRow, actRow, prep + t * prepRow, prepRow, y + t * yStride, yStride, t == 0);
            for (; t + 4 <= n; t += 4)
                for (int g = g0; g < g1; g++)
                    Tokens512<TG, Four>(packed, rows, nb, g, act + t * actRow, actRow, prep + t * prepRow, prepRow, y + t * yStride, yStride, t == 0);
            for (; t < n; t++)
                Decode512<TG>(packed, rows, nb, act + t * actRow, prep + t * prepRow, y + t * yStride, g0, g1);
            g0 = g1;
        }
    }

    private static void Store(Vector512<float> v, float* y, int valid)
    {
        if (valid >= GroupRows)
        {
            v.Store(y);
            return;
        }
        float* tmp = stackalloc float[GroupRows];
        v.Store(tmp);
        for (int i = 0; i < valid; i++)
            y[i] = tmp[i];
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector512<sbyte> Bcast(byte* p) => Vector512.Create(*(int*)p).AsSByte();

    /// <summary>
    /// One token, rows of groups [groupStart, groupEnd): a stored pair of groups per pass (one ascending stream, each
    /// activation broadcast serves 32 rows); a group whose partner is outside the range runs alone.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Decode512<TG>(byte* packed, int rows, int nb, byte* act, byte* prep, float* y, int groupStart, int groupEnd)
    {
        for (int g = groupStart; g < groupEnd;)
        {
            byte* w = GroupTiles(packed, rows, nb, g, out long stride, out int us);
            Vector512<float> r0, r1;
            if (us == 128 && (g & 1) == 0 && g + 1 < groupEnd)
            {
                Decode512<TG, Two, U128>(w, stride, nb, act, prep, out r0, out r1);
                Store(r0, y + g * GroupRows, rows - g * GroupRows);
                Store(r1, y + (g + 1) * GroupRows, rows - (g + 1) * GroupRows);
                g += 2;
                continue;
            }
            if (us == 128)
                Decode512<TG, One, U128>(w, stride, nb, act, prep, out r0, out _);
            else
                Decode512<TG, One, U64>(w, stride, nb, act, prep, out r0, out _);
            Store(r0, y + g * GroupRows, rows - g * GroupRows);
            g++;
        }
    }

    /// <summary>One token; group 0 at w0 and (TP = Two) its stored partner 64 bytes on; super-blocks stride bytes apart.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Decode512<TG, TP, TU>(byte* w0, long stride, int nb, byte* a, byte* prep, out Vector512<float> r0, out Vector512<float> r1)
    {
        bool gemm = typeof(TG) == typeof(Gemm);
        bool two = typeof(TP) == typeof(Two);
        int us = Us<TU>();
        var m = Vector512.Create((byte)0x0F);
        Vector512<byte> sc0 = s_sc0, sc1 = s_sc1, sc2 = s_sc2, sc3 = s_sc3, mx0 = s_mn0, mx1 = s_mn1;
        Vector512<float> acc0 = default, acc1 = default, min0 = default, min1 = default;
        for (int b = 0; b < nb; b++, w0 += stride, a += ActBytes, prep += PrepBytes)
        {
            byte* w1 = w0 + 64;
            long pf = Prefetch ? stride * PrefetchSuperBlocks : 0;
            if (pf != 0)
            {
                // d/dmin, scales and mins of the next super-block; its nibbles are prefetched chunk by chunk below.
                for (int u = 0; u < UQs; u++)
                {
                    PrefetchLine(w0 + u * us + pf);
                    if (two) PrefetchLine(w1 + u * us + pf);
                }
            }
            var da = Vector512.Create(*(float*)a);
            Vector512<int> i0 = default, i1 = default, m0 = default, m1 = default;
            for (int k = 0; k < 4; k++)
            {
                byte* q0 = w0 + (UQs + 8 * k) * us;
                byte* x = a + 4 + 64 * k;
                Vector512<short> pl0 = default, ph0 = default, pl1 = default, ph1 = default;
                // Unrolled by hand (the JIT keeps an 8-iteration loop): one chunk = 4 values of both sub-blocks of the pair.
                Chunk<TP>(q0, 0 * us, x + 0, m, pf, ref pl0, ref ph0, ref pl1, ref ph1);
                Chunk<TP>(q0, 1 * us, x + 4, m, pf, ref pl0, ref ph0, ref pl1, ref ph1);
                Chunk<TP>(q0, 2 * us, x + 8, m, pf, ref pl0, ref ph0, ref pl1, ref ph1);
                Chunk<TP>(q0, 3 * us, x + 12, m, pf, ref pl0, ref ph0, ref pl1, ref ph1);
                Chunk<TP>(q0, 4 * us, x + 16, m, pf, ref pl0, ref ph0, ref pl1, ref ph1);
                Chunk<TP>(q0, 5 * us, x + 20, m, pf, ref pl0, ref ph0, ref pl1, ref ph1);
                Chunk<TP>(q0, 6 * us, x + 24, m, pf, ref pl0, ref ph0, ref pl1, ref ph1);
                Chunk<TP>(q0, 7 * us, x + 28, m, pf, ref pl0, ref ph0, ref pl1, ref ph1);
                int so = (USc + (k >> 1)) * us, mo = (UMin + (k >> 1)) * us;
                Vector512<byte> il = (k & 1) == 0 ? sc0 : sc2, ih = (k & 1) == 0 ? sc1 : sc3, im = (k & 1) == 0 ? mx0 : mx1;
                var bs = Vector512.Create(*(int*)(prep + 4 * k)).AsInt16();
                var s0 = Vector512.Load(w0 + so);
                i0 += Avx512BW.MultiplyAddAdjacent(pl0, Avx512BW.Shuffle(s0, il).AsInt16()) + Avx512BW.MultiplyAddAdjacent(ph0, Avx512BW.Shuffle(s0, ih).AsInt16());
                m0 += Avx512BW.MultiplyAddAdjacent(Avx512BW.Shuffle(Vector512.Load(w0 + mo), im).AsInt16(), bs);
                if (two)
                {
                    var s1 = Vector512.Load(w1 + so);
                    i1 += Avx512BW.MultiplyAddAdjacent(pl1, Avx512BW.Shuffle(s1, il).AsInt16()) + Avx512BW.MultiplyAddAdjacent(ph1, Avx512BW.Shuffle(s1, ih).AsInt16());
                    m1 += Avx512BW.MultiplyAddAdjacent(Avx512BW.Shuffle(Vector512.Load(w1 + mo), im).AsInt16(), bs);
                }
                if (gemm || k == 3)
                {
                    acc0 = Avx512F.FusedMultiplyAdd(Vector512.ConvertToSingle(i0), Fp16.ToFloat(Vector256.Load((ushort*)(w0 + UD * us))) * da, acc0);
                    min0 = Avx512F.FusedMultiplyAdd(Vector512.ConvertToSingle(m0), Fp16.ToFloat(Vector256.Load((ushort*)(w0 + UD * us + 32))) * da, min0);
                    if (two)
                    {
                        acc1 = Avx512F.FusedMultiplyAdd(Vector512.ConvertToSingle(i1), Fp16.ToFloat(Vector256.Load((ushort*)(w1 + UD * us))) * da, acc1);
                        min1 = Avx512F.FusedMultiplyAdd(Vector512.ConvertToSingle(m1), Fp16.ToFloat(Vector256.Load((ushort*)(w1 + UD * us + 32))) * da, min1);
                    }
                    i0 = i1 = m0 = m1 = default;
                }
            }
        }
        r0 = acc0 - min0;
        r1 = acc1 - min1;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Chunk<TP>(byte* q, int o, byte* x, Vector512<byte> m, long pf,
        ref Vector512<short> pl0, ref Vector512<short> ph0, ref Vector512<short> pl1, ref Vector512<short> ph1)
    {
        bool two = typeof(TP) == typeof(Two);
        if (pf != 0)
        {
            PrefetchLine(q + o + pf);
            if (two) PrefetchLine(q + o + pf + 64);
        }
        var xl = Bcast(x);
        var xh = Bcast(x + 32);
        var v0 = Vector512.Load(q + o);
        pl0 += Avx512BW.MultiplyAddAdjacent(v0 & m, xl);
        ph0 += Avx512BW.MultiplyAddAdjacent((v0.AsUInt16() >> 4).AsByte() & m, xh);
        if (two)
        {
            var v1 = Vector512.Load(q + o + 64);
            pl1 += Avx512BW.MultiplyAddAdjacent(v1 & m, xl);
            ph1 += Avx512BW.MultiplyAddAdjacent((v1.AsUInt16() >> 4).AsByte() & m, xh);
        }
    }

    /// <summary>Eight pmaddubsw of one sub-block's nibble chunks against one token's activations, summed in int16.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector512<short> Sub(Vector512<byte> n0, Vector512<byte> n1, Vector512<byte> n2, Vector512<byte> n3,
        Vector512<byte> n4, Vector512<byte> n5, Vector512<byte> n6, Vector512<byte> n7, byte* x)
    {
        // |pair| <= 2 * 15 * 128, eight pairs per int16 lane: <= 30720, exact.
        var p = Avx512BW.MultiplyAddAdjacent(n0, Bcast(x));
        p += Avx512BW.MultiplyAddAdjacent(n1, Bcast(x + 4));
        p += Avx512BW.MultiplyAddAdjacent(n2, Bcast(x + 8));
        p += Avx512BW.MultiplyAddAdjacent(n3, Bcast(x + 12));
        p += Avx512BW.MultiplyAddAdjacent(n4, Bcast(x + 16));
        p += Avx512BW.MultiplyAddAdjacent(n5, Bcast(x + 20));
        p += Avx512BW.MultiplyAddAdjacent(n6, Bcast(x + 24));
        p += Avx512BW.MultiplyAddAdjacent(n7, Bcast(x + 28));
        return p;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector512<float> Flush(Vector512<int> isum, Vector512<float> d, byte* a, Vector512<float> acc) =>
        Avx512F.FusedMultiplyAdd(Vector512.ConvertToSingle(isum), d * Vector512.Create(*(float*)a), acc);

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Tokens512<TG, TN>(byte* packed, int rows, int nb, int g, byte* act, long actRow, byte* prep, long prepRow,
        float* y, long yStride, bool firstPass)
    {
        byte* w = GroupTiles(packed, rows, nb, g, out long stride, out int us);
        int valid = Math.Min(GroupRows, rows - g * GroupRows);
        long pf = firstPass && Prefetch ? stride : 0;
        if (us == 128)
            Tokens512<TG, TN, U128>(w, stride, nb, act, actRow, prep, prepRow, y + g * GroupRows, yStride, valid, pf);
        else
            Tokens512<TG, TN, U64>(w, stride, nb, act, actRow, prep, prepRow, y + g * GroupRows, yStride, valid, pf);
    }

    /// <summary>
    /// One 16-row group, 4 or 8 tokens: each sub-block's nibbles are unpacked once and used for every token. The mins
    /// (a separate FMA chain that does not touch the nibbles) run in a second, short pass over the group's tiles.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Tokens512<TG, TN, TU>(byte* w, long stride, int nb, byte* act, long actRow, byte* prep, long prepRow,
        float* y, long yStride, int valid, long pf)
    {
        bool gemm = typeof(TG) == typeof(Gemm);
        bool eight = typeof(TN) == typeof(Eight);
        int us = Us<TU>();
        var m = Vector512.Create((byte)0x0F);
        Vector512<float> c0 = default, c1 = default, c2 = default, c3 = default, c4 = default, c5 = default, c6 = default, c7 = default;
        byte* t = w;
        byte* a = act;
        for (int b = 0; b < nb; b++, t += stride, a += ActBytes)
        {
            var d = Fp16.ToFloat(Vector256.Load((ushort*)(t + UD * us)));
            Vector512<int> i0 = default, i1 = default, i2 = default, i3 = default, i4 = default, i5 = default, i6 = default, i7 = default;
            for (int j = 0; j < 8; j++)
            {
                if (pf != 0)
                {
                    // this group's units of the next super-block, five per sub-block
                    for (int u = 5 * j; u < 5 * j + 5 && u < Units; u++)
                        Sse.Prefetch0(t + pf + u * us);
                }
                byte* q = t + (UQs + 8 * (j >> 1)) * us;
                Vector512<byte> n0, n1, n2, n3, n4, n5, n6, n7;
                if ((j & 1) == 0)
                {
                    n0 = Vector512.Load(q) & m; n1 = Vector512.Load(q + us) & m;
                    n2 = Vector512.Load(q + 2 * us) & m; n3 = Vector512.Load(q + 3 * us) & m;
                    n4 = Vector512.Load(q + 4 * us) & m; n5 = Vector512.Load(q + 5 * us) & m;
                    n6 = Vector512.Load(q + 6 * us) & m; n7 = Vector512.Load(q + 7 * us) & m;
                }
                else
                {
                    n0 = Simd.Shr(Vector512.Load(q), 4); n1 = Simd.Shr(Vector512.Load(q + us), 4);
                    n2 = Simd.Shr(Vector512.Load(q + 2 * us), 4); n3 = Simd.Shr(Vector512.Load(q + 3 * us), 4);
                    n4 = Simd.Shr(Vector512.Load(q + 4 * us), 4); n5 = Simd.Shr(Vector512.Load(q + 5 * us), 4);
                    n6 = Simd.Shr(Vector512.Load(q + 6 * us), 4); n7 = Simd.Shr(Vector512.Load(q + 7 * us), 4);
                }
                var idx = (j & 3) switch { 0 => s_sc0, 1 => s_sc1, 2 => s_sc2, _ => s_sc3 };
                var sc = Avx512BW.Shuffle(Vector512.Load(t + (USc + (j >> 2)) * us), idx).AsInt16();
                byte* x = a + 4 + 32 * j;
                i0 += Avx512BW.MultiplyAddAdjacent(Sub(n0, n1, n2, n3, n4, n5, n6, n7, x), sc);
                i1 += Avx512BW.MultiplyAddAdjacent(Sub(n0, n1, n2, n3, n4, n5, n6, n7, x + actRow), sc);
                i2 += Avx512BW.MultiplyAddAdjacent(Sub(n0, n1, n2, n3, n4, n5, n6, n7, x + 2 * actRow), sc);
                i3 += Avx512BW.MultiplyAddAdjacent(Sub(n0, n1, n2, n3, n4, n5, n6, n7, x + 3 * actRow), sc);
                if (eight)
                {
                    i4 += Avx512BW.MultiplyAddAdjacent(Sub(n0, n1, n2, n3, n4, n5, n6, n7, x + 4 * actRow), sc);
                    i5 += Avx512BW.MultiplyAddAdjacent(Sub(n0, n1, n2, n3, n4, n5, n6, n7, x + 5 * actRow), sc);
                    i6 += Avx512BW.MultiplyAddAdjacent(Sub(n0, n1, n2, n3, n4, n5, n6, n7, x + 6 * actRow), sc);
                    i7 += Avx512BW.MultiplyAddAdjacent(Sub(n0, n1, n2, n3, n4, n5, n6, n7, x + 7 * actRow), sc);
                }
                if (gemm ? (j & 1) == 1 : j == 7)
                {
                    c0 = Flush(i0, d, a, c0);
                    c1 = Flush(i1, d, a + actRow, c1);
                    c2 = Flush(i2, d, a + 2 * actRow, c2);
                    c3 = Flush(i3, d, a + 3 * actRow, c3);
                    if (eight)
                    {
                        c4 = Flush(i4, d, a + 4 * actRow, c4);
                        c5 = Flush(i5, d, a + 5 * actRow, c5);
                        c6 = Flush(i6, d, a + 6 * actRow, c6);
                        c7 = Flush(i7, d, a + 7 * actRow, c7);
                    }
                    i0 = i1 = i2 = i3 = i4 = i5 = i6 = i7 = default;
                }
            }
        }

        // Mins: accMin per token, then y = acc - accMin.
        Vector512<float> e0 = default, e1 = default, e2 = default, e3 = default, e4 = default, e5 = default, e6 = default, e7 = default;
        t = w;
        a = act;
        byte* p = prep;
        for (int b = 0; b < nb; b++, t += stride, a += ActBytes, p += PrepBytes)
        {
            var dm = Fp16.ToFloat(Vector256.Load((ushort*)(t + UD * us + 32)));
            var lo = Vector512.Load(t + UMin * us);
            var hi = Vector512.Load(t + (UMin + 1) * us);
            var mk0 = Avx512BW.Shuffle(lo, s_mn0).AsInt16();
            var mk1 = Avx512BW.Shuffle(lo, s_mn1).AsInt16();
            var mk2 = Avx512BW.Shuffle(hi, s_mn0).AsInt16();
            var mk3 = Avx512BW.Shuffle(hi, s_mn1).AsInt16();
            e0 = Mins<TG>(mk0, mk1, mk2, mk3, p, dm, a, e0);
            e1 = Mins<TG>(mk0, mk1, mk2, mk3, p + prepRow, dm, a + actRow, e1);
            e2 = Mins<TG>(mk0, mk1, mk2, mk3, p + 2 * prepRow, dm, a + 2 * actRow, e2);
            e3 = Mins<TG>(mk0, mk1, mk2, mk3, p + 3 * prepRow, dm, a + 3 * actRow, e3);
            if (eight)
            {
                e4 = Mins<TG>(mk0, mk1, mk2, mk3, p + 4 * prepRow, dm, a + 4 * actRow, e4);
                e5 = Mins<TG>(mk0, mk1, mk2, mk3, p + 5 * prepRow, dm, a + 5 * actRow, e5);
                e6 = Mins<TG>(mk0, mk1, mk2, mk3, p + 6 * prepRow, dm, a + 6 * actRow, e6);
                e7 = Mins<TG>(mk0, mk1, mk2, mk3, p + 7 * prepRow, dm, a + 7 * actRow, e7);
            }
        }
        Store(c0 - e0, y, valid);
        Store(c1 - e1, y + yStride, valid);
        Store(c2 - e2, y + 2 * yStride, valid);
        Store(c3 - e3, y + 3 * yStride, valid);
        if (eight)
        {
            Store(c4 - e4, y + 4 * yStride, valid);
            Store(c5 - e5, y + 5 * yStride, valid);
            Store(c6 - e6, y + 6 * yStride, valid);
            Store(c7 - e7, y + 7 * yStride, valid);
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector512<float> Mins<TG>(Vector512<short> mk0, Vector512<short> mk1, Vector512<short> mk2, Vector512<short> mk3,
        byte* p, Vector512<float> dm, byte* a, Vector512<float> acc)
    {
        var x0 = Avx512BW.MultiplyAddAdjacent(mk0, Vector512.Create(*(int*)p).AsInt16());
        var x1 = Avx512BW.MultiplyAddAdjacent(mk1, Vector512.Create(*(int*)(p + 4)).AsInt16());
        var x2 = Avx512BW.MultiplyAddAdjacent(mk2, Vector512.Create(*(int*)(p + 8)).AsInt16());
        var x3 = Avx512BW.MultiplyAddAdjacent(mk3, Vector512.Create(*(int*)(p + 12)).AsInt16());
        var dma = dm * Vector512.Create(*(float*)a);
        if (typeof(TG) == typeof(Gemm))
        {
            acc = Avx512F.FusedMultiplyAdd(Vector512.ConvertToSingle(x0), dma, acc);
            acc = Avx512F.FusedMultiplyAdd(Vector512.ConvertToSingle(x1), dma, acc);
            acc = Avx512F.FusedMultiplyAdd(Vector512.ConvertToSingle(x2), dma, acc);
            return Avx512F.FusedMultiplyAdd(Vector512.ConvertToSingle(x3), dma, acc);
        }
        return Avx512F.FusedMultiplyAdd(Vector512.ConvertToSingle((x0 + x1) + (x2 + x3)), dma, acc);
    }
}
