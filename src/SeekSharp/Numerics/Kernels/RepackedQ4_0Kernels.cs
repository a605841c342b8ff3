using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace SeekSharp.Numerics;

// Q4_0 x Q8_0 in llama.cpp's repacked order (CPU_REPACK, ggml_gemv/gemm_q4_0_8x8_q8_0): per (weight row, token) the
// accumulator starts at 0 and, for each block in order, takes one FMA: acc = fma((float)isum, fl(d_w * d_a), acc), where
// isum = sum (q - 8) * a is the block's exact integer dot. Only that float sequence must match; the layout is our own.
//
// Layout: rows in groups of 16 (a last, partial group is padded with zero rows); a group's block b is a 288-byte tile
// (the size of the 16 original blocks) made of the 16 rows' f16 scales (row r at 2r) and four 64-byte chunks, chunk
// c = 0..3 holding qs bytes [4c, 4c + 4) of row r at 4r (unsigned nibbles, as stored). So 32-bit lane r of chunk c holds
// row r's values 4c..4c+3 in its low nibbles and 16+4c..16+4c+3 in its high nibbles.
// Groups 2p and 2p + 1 are stored together, block by block, as 576-byte (nine cache line) pair blocks at
// (p * nb + b) * 576: [0, 32) scales of 2p, [32, 64) scales of 2p + 1, [64, 320) chunks of 2p, [320, 576) chunks of
// 2p + 1. Every chunk then starts on a 64-byte boundary when the packed buffer does (no 512-bit load splits a cache
// line), and the two groups of a pair, which decode runs side by side, are one sequential stream (two groups of the
// 16-row-group layout side by side were two streams restarting every group: up to 2x slower from DRAM for short rows).
// A last group without a partner (an odd group count)
// is stored alone: per block its scales and then its chunks (288-byte stride), so the total is always 288 bytes per
// (group, block).
//
// Arithmetic: one 512-bit register holds one chunk of all 16 rows. pmaddubsw of the unsigned nibbles against the
// broadcast 4 activation bytes of that chunk gives pair sums; eight of them (4 chunks x low/high) add up in int16 exactly
// (|8 x 2 x 15 x 128| = 30720); pmaddwd with ones gives each row's sum(q * a) in its 32-bit lane, and subtracting
// 8 * sum(a) (computed once per token and block by Prepare) gives isum. Then one float FMA per block updates 16 rows.
// The 256-bit path handles the two 8-row halves of a chunk, the 128-bit paths four 4-row quarters (the portable one
// widens to 16 bits and multiplies instead of pmaddubsw); the scalar path is the model itself on the packed bytes.
// Work order: decode (n == 1) runs a pair's two groups side by side, two pairs at a time from the two halves of the
// group range; prefill runs row tiles of about PrefillTileBytes, and per tile token groups of 16/8/4/2 per weight
// unpack (512-bit; up to 8 tokens both groups of a pair at once), or 4 (256-bit), then single tokens.
internal static unsafe class RepackedQ4_0
{
    /// <summary>Rows per interleaved group.</summary>
    public const int GroupRows = 16;

    /// <summary>Bytes per (group, block): 16 f16 scales and 16 x 16 qs bytes.</summary>
    public const int TileBytes = 288;

    /// <summary>Bytes per (group pair, block).</summary>
    private const int PairBytes = 2 * TileBytes;

    private const int WeightBlockBytes = 18;
    private const int ActBytes = 34;       // block_q8_0: f16 d, 32 x int8
    private const int PrepEntryBytes = 8;  // per (token, block): float d_a, int 8 * sum(a)

    /// <summary>
    /// Prefill works on row tiles of about this many weight bytes (a share of L2), running every token group over one
    /// tile before the next, so each weight tile is read from memory once per call.
    /// </summary>
    public static int PrefillTileBytes = 256 << 10;

    /// <summary>
    /// When not 0, decode prefetches the weights this many bytes ahead of its reads. Off: on the development machine
    /// (AMD EPYC, AVX-512) single-threaded decode from DRAM measured 0.8-1.0x with 576 to 4608 bytes ahead, the hardware
    /// prefetcher already following decode's sequential streams. A/B switch for other machines; no effect on results.
    /// </summary>
    public static int DecodePrefetchBytes = 0;

    // ---------------------------------------------------------------- layout

    /// <summary>
    /// Where group <paramref name="g"/> lies: block b's scales at scales + b * stride, its chunk c at
    /// chunks + b * stride + 64c. Returns the stride (576 inside a pair, 288 for a last group without a partner).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static int Locate(byte* packed, int nb, int groups, int g, out byte* scales, out byte* chunks)
    {
        byte* pair = packed + (long)(g >> 1) * nb * PairBytes;
        if ((g | 1) < groups)
        {
            scales = pair + 32 * (g & 1);
            chunks = pair + 64 + 256 * (g & 1);
            return PairBytes;
        }
        scales = pair;
        chunks = pair + 32;
        return TileBytes;
    }

    private static int Groups(int rows) => (rows + GroupRows - 1) / GroupRows;

    // ---------------------------------------------------------------- packing and per-call preparation

    /// <summary>Bytes of the packed form: 288 per (group, block), ceil(rows / 16) groups of cols / 32 blocks.</summary>
    public static long PackedBytes(int rows, int cols) => (long)Groups(rows) * (cols / 32) * TileBytes;

    /// <summary>
    /// Packs groups [<paramref name="groupStart"/>, <paramref name="groupEnd"/>) of the row-major Q4_0 matrix
    /// <paramref name="src"/> (row r at src + r * (cols / 32 * 18)) into <paramref name="dst"/>. Rows past
    /// <paramref name="rows"/> in the last group are zero. Disjoint group ranges write disjoint bytes (also the two
    /// groups of one pair).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Pack(byte* src, int rows, int cols, byte* dst, int groupStart, int groupEnd)
    {
        int nb = cols / 32, groups = Groups(rows);
        long rowBytes = (long)nb * WeightBlockBytes;
        for (int g = groupStart; g < groupEnd; g++)
        {
            int stride = Locate(dst, nb, groups, g, out byte* scales, out byte* chunks);
            int real = Math.Clamp(rows - g * GroupRows, 0, GroupRows);
            byte* s0 = src + (long)g * GroupRows * rowBytes;
            // Block by block: the group's 16 rows are read as 16 sequential streams, each block's bytes written together.
            for (int b = 0; b < nb; b++, scales += stride, chunks += stride, s0 += WeightBlockBytes)
            {
                byte* s = s0;
                for (int r = 0; r < real; r++, s += rowBytes)
                {
                    *(ushort*)(scales + 2 * r) = Unsafe.ReadUnaligned<ushort>(s);
                    *(uint*)(chunks + 4 * r) = Unsafe.ReadUnaligned<uint>(s + 2);
                    *(uint*)(chunks + 64 + 4 * r) = Unsafe.ReadUnaligned<uint>(s + 6);
                    *(uint*)(chunks + 128 + 4 * r) = Unsafe.ReadUnaligned<uint>(s + 10);
                    *(uint*)(chunks + 192 + 4 * r) = Unsafe.ReadUnaligned<uint>(s + 14);
                }
                for (int r = real; r < GroupRows; r++)
                {
                    *(ushort*)(scales + 2 * r) = 0;
                    for (int c = 0; c < 4; c++)
                        *(uint*)(chunks + 64 * c + 4 * r) = 0;
                }
            }
        }
    }

    /// <summary>Scratch bytes <see cref="Prepare"/> fills for <paramref name="n"/> activation rows.</summary>
    public static long PrepareBytes(int cols, int n) => (long)n * (cols / 32) * PrepEntryBytes;

    /// <summary>
    /// Per activation row t in [<paramref name="tokenStart"/>, <paramref name="tokenEnd"/>) and block b: d_a as float and
    /// 8 * sum(a) (the Q4_0 offset's share of the block dot), at prep + (t * nb + b) * 8. Disjoint token ranges write
    /// disjoint bytes.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Prepare(byte* act, long actRow, int n, int cols, byte* prep, int tokenStart, int tokenEnd)
    {
        int nb = cols / 32;
        for (int t = tokenStart; t < tokenEnd; t++)
        {
            byte* a = act + t * actRow;
            byte* p = prep + (long)t * nb * PrepEntryBytes;
            for (int b = 0; b < nb; b++, a += ActBytes, p += PrepEntryBytes)
            {
                *(float*)p = Fp16.ToFloat(a);
                // 32 int8 summed in 16-bit lanes: at most 4 x 128 per lane, 4096 in all, exact.
                Vector128<sbyte> v0 = Vector128.Load((sbyte*)(a + 2)), v1 = Vector128.Load((sbyte*)(a + 18));
                Vector128<short> s = Vector128.WidenLower(v0) + Vector128.WidenUpper(v0) + Vector128.WidenLower(v1) + Vector128.WidenUpper(v1);
                *(int*)(p + 4) = 8 * Vector128.Sum(s);
            }
        }
    }

    // ---------------------------------------------------------------- entry point

    /// <summary>
    /// y[t * yStride + r] = repacked-order dot of weight row r and activation row t (block_q8_0 rows at act + t * actRow)
    /// for t in [0, n) and r in [groupStart * 16, min(rows, groupEnd * 16)); <paramref name="prep"/> is what
    /// <see cref="Prepare"/> wrote for these n rows. n == 1 is decode; larger n runs row tiles x token groups. Any group
    /// range gives the same bits; ranges that start at an even group keep pairs together (a group run without its
    /// partner reads every other chunk line of the pair blocks).
    /// </summary>
    public static void Multiply(byte* packed, int rows, int cols, byte* act, long actRow, byte* prep, int n,
                                float* y, long yStride, int groupStart, int groupEnd, int width)
    {
        int nb = cols / 32, groups = Groups(rows);
        groupEnd = Math.Min(groupEnd, groups);
        if (n <= 0 || nb == 0 || groupStart >= groupEnd)
            return;
        long prepRow = (long)nb * PrepEntryBytes;
        if (width >= 512 && Avx512BW.IsSupported)
        {
            if (n == 1)
                Decode512(packed, nb, rows, act, prep, y, groupStart, groupEnd);
            else
                Prefill512(packed, nb, rows, act, actRow, prep, prepRow, n, y, yStride, groupStart, groupEnd);
            return;
        }

        // Narrower paths, over row tiles so the weights of a tile stay in cache across tokens: the 256-bit path runs four
        // tokens per weight unpack, the rest one token at a time.
        int tileGroups = Math.Max(1, PrefillTileBytes / (nb * TileBytes));
        int kind = width >= 256 && Avx2.IsSupported ? 256
            : width >= 128 ? (KernelSettings.UseX86Helpers128 && Ssse3.IsSupported ? 128 : -128)
            : 0;
        for (int g0 = groupStart; g0 < groupEnd; g0 += tileGroups)
        {
            int g1 = Math.Min(groupEnd, g0 + tileGroups);
            int t0 = 0;
            if (kind == 256)
                for (; t0 + 4 <= n; t0 += 4)
                    for (int g = g0; g < g1; g++)
                    {
                        int stride = Locate(packed, nb, groups, g, out byte* scales, out byte* chunks);
                        byte* a = act + t0 * actRow, p = prep + t0 * prepRow;
                        float* yt = y + t0 * yStride;
                        int row0 = g * GroupRows;
                        Half256x4(scales, chunks, stride, nb, a, actRow, p, prepRow, yt, yStride, row0, rows);
                        Half256x4(scales + 16, chunks + 32, stride, nb, a, actRow, p, prepRow, yt, yStride, row0 + 8, rows);
                    }
            for (int t = t0; t < n; t++)
                for (int g = g0; g < g1; g++)
                {
                    int stride = Locate(packed, nb, groups, g, out byte* scales, out byte* chunks);
                    byte* a = act + t * actRow;
                    byte* p = prep + t * prepRow;
                    float* yt = y + t * yStride;
                    int row0 = g * GroupRows;
                    if (kind == 256 && (g & 1) == 0 && g + 1 < g1)
                    {
                        // Both groups of a pair in one pass: the pair blocks are read in order (one stream from DRAM).
                        Pair256(scales, nb, a, p, yt, row0, rows);
                        g++;
                        continue;
                    }
                    switch (kind)
                    {
                        case 256: Group256(scales, chunks, stride, nb, a, p, yt, row0, rows); break;
                        case 128: Group128(scales, chunks, stride, nb, a, p, yt, row0, rows); break;
                        case -128: GroupPortable128(scales, chunks, stride, nb, a, p, yt, row0, rows); break;
                        default: GroupScalar(scales, chunks, stride, nb, a, p, yt, row0, rows); break;
                    }
                }
        }
    }

    // ---------------------------------------------------------------- stores

    /// <summary>
    /// Stores a group's 16 results, or only those of rows below <paramref name="rows"/> in a last, partial group (a
    /// masked store: no call, so the JIT keeps the other accumulators of a kernel in registers instead of spilling them).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Store(Vector512<float> acc, float* y, int row0, int rows)
    {
        if (row0 + GroupRows <= rows)
            acc.Store(y + row0);
        else
            Avx512F.MaskStore(y + row0, Vector512.LessThan(Vector512<int>.Indices, Vector512.Create(rows - row0)).AsSingle(), acc);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Store<T>(T part, int count, float* y, int row0, int rows) where T : unmanaged
    {
        float* v = (float*)&part;
        if (row0 + count <= rows)
            Unsafe.CopyBlockUnaligned(y + row0, v, (uint)(count * sizeof(float)));
        else
            for (int i = 0; row0 + i < rows; i++)
                y[row0 + i] = v[i];
    }

    // ---------------------------------------------------------------- 512

    /// <summary>sum(q * a) of one block for all 16 rows, in int16 pair sums (exact: at most 30720 in magnitude).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector512<short> Dot16(Vector512<byte> l0, Vector512<byte> h0, Vector512<byte> l1, Vector512<byte> h1,
        Vector512<byte> l2, Vector512<byte> h2, Vector512<byte> l3, Vector512<byte> h3, byte* q)
    {
        Vector512<short> p = Avx512BW.MultiplyAddAdjacent(l0, Vector512.Create(*(int*)(q + 0)).AsSByte());
        p += Avx512BW.MultiplyAddAdjacent(l1, Vector512.Create(*(int*)(q + 4)).AsSByte());
        p += Avx512BW.MultiplyAddAdjacent(l2, Vector512.Create(*(int*)(q + 8)).AsSByte());
        p += Avx512BW.MultiplyAddAdjacent(l3, Vector512.Create(*(int*)(q + 12)).AsSByte());
        p += Avx512BW.MultiplyAddAdjacent(h0, Vector512.Create(*(int*)(q + 16)).AsSByte());
        p += Avx512BW.MultiplyAddAdjacent(h1, Vector512.Create(*(int*)(q + 20)).AsSByte());
        p += Avx512BW.MultiplyAddAdjacent(h2, Vector512.Create(*(int*)(q + 24)).AsSByte());
        p += Avx512BW.MultiplyAddAdjacent(h3, Vector512.Create(*(int*)(q + 28)).AsSByte());
        return p;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector512<byte> Low(Vector512<byte> v) => v & Vector512.Create((byte)0x0F);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector512<byte> High(Vector512<byte> v) => (v.AsUInt16() >> 4).AsByte() & Vector512.Create((byte)0x0F);

    /// <summary>One block of one token for 16 rows: acc = fma(isum, fl(d_w * d_a), acc) per row.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector512<float> Block512(byte* scales, byte* chunks, byte* a, byte* p, Vector512<float> acc)
    {
        Vector512<byte> v0 = Vector512.Load(chunks), v1 = Vector512.Load(chunks + 64);
        Vector512<byte> v2 = Vector512.Load(chunks + 128), v3 = Vector512.Load(chunks + 192);
        Vector512<short> s = Dot16(Low(v0), High(v0), Low(v1), High(v1), Low(v2), High(v2), Low(v3), High(v3), a + 2);
        Vector512<int> isum = Avx512BW.MultiplyAddAdjacent(s, Vector512<short>.One) - Vector512.Create(*(int*)(p + 4));
        Vector512<float> d = Fp16.ToFloat(Vector256.Load((ushort*)scales)) * Vector512.Create(*(float*)p);
        return Vector512.FusedMultiplyAdd(Vector512.ConvertToSingle(isum), d, acc);
    }

    /// <summary>
    /// One token over groups [g0, g1). The pairs are split into two halves whose pairs run side by side (four groups per
    /// pass sharing the activation loads): two sequential streams draw more DRAM bandwidth from one core than one does.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Decode512(byte* packed, int nb, int rows, byte* act, byte* prep, float* y, int g0, int g1)
    {
        int groups = Groups(rows), ahead = DecodePrefetchBytes;
        int g = g0;
        if ((g & 1) != 0 && g < g1)
            Decode512One(packed, nb, groups, rows, act, prep, y, g++, ahead);
        int pairs = (g1 - g) >> 1, half = (pairs + 1) >> 1;
        long pairRow = (long)nb * PairBytes;
        byte* first = packed + (long)(g >> 1) * pairRow;
        for (int i = 0; i < pairs - half; i++)
            Decode512Pairs<Two>(first + i * pairRow, first + (half + i) * pairRow, nb, act, prep,
                                y, (g + 2 * i) * GroupRows, (g + 2 * (half + i)) * GroupRows, rows, ahead);
        if (half > pairs - half)
            Decode512Pairs<One>(first + (half - 1) * pairRow, null, nb, act, prep, y, (g + 2 * (half - 1)) * GroupRows, 0, rows, ahead);
        g += 2 * pairs;
        if (g < g1)
            Decode512One(packed, nb, groups, rows, act, prep, y, g, ahead);
    }

    /// <summary>One pair (<typeparamref name="TN"/> = One) or two pairs (Two) of groups, pair blocks at p0 and p1.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Decode512Pairs<TN>(byte* p0, byte* p1, int nb, byte* act, byte* prep, float* y, int row0, int row1, int rows, int ahead)
    {
        bool two = typeof(TN) == typeof(Two);
        byte* a = act, p = prep;
        Vector512<float> acc0 = default, acc1 = default, acc2 = default, acc3 = default;
        for (int b = 0; b < nb; b++, p0 += PairBytes, p1 += PairBytes, a += ActBytes, p += PrepEntryBytes)
        {
            if (ahead != 0)
            {
                Prefetch9(p0 + ahead);
                if (two)
                    Prefetch9(p1 + ahead);
            }
            acc0 = Block512(p0, p0 + 64, a, p, acc0);
            acc1 = Block512(p0 + 32, p0 + 320, a, p, acc1);
            if (two)
            {
                acc2 = Block512(p1, p1 + 64, a, p, acc2);
                acc3 = Block512(p1 + 32, p1 + 320, a, p, acc3);
            }
        }
        Store(acc0, y, row0, rows);
        Store(acc1, y, row0 + GroupRows, rows);
        if (two)
        {
            Store(acc2, y, row1, rows);
            Store(acc3, y, row1 + GroupRows, rows);
        }
    }

    /// <summary>Prefetches the nine cache lines of a pair block.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Prefetch9(byte* f)
    {
        Sse.Prefetch0(f); Sse.Prefetch0(f + 64); Sse.Prefetch0(f + 128);
        Sse.Prefetch0(f + 192); Sse.Prefetch0(f + 256); Sse.Prefetch0(f + 320);
        Sse.Prefetch0(f + 384); Sse.Prefetch0(f + 448); Sse.Prefetch0(f + 512);
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Decode512One(byte* packed, int nb, int groups, int rows, byte* act, byte* prep, float* y, int g, int ahead)
    {
        int stride = Locate(packed, nb, groups, g, out byte* scales, out byte* chunks);
        byte* a = act, p = prep;
        Vector512<float> acc = default;
        for (int b = 0; b < nb; b++, scales += stride, chunks += stride, a += ActBytes, p += PrepEntryBytes)
        {
            if (ahead != 0)
            {
                byte* f = chunks + ahead;
                Sse.Prefetch0(scales + ahead);
                Sse.Prefetch0(f); Sse.Prefetch0(f + 64); Sse.Prefetch0(f + 128); Sse.Prefetch0(f + 192);
            }
            acc = Block512(scales, chunks, a, p, acc);
        }
        Store(acc, y, g * GroupRows, rows);
    }

    // Token-count markers: the JIT specializes each body per marker and drops the unused tokens' code.
    private struct One;
    private struct Two;
    private struct Four;
    private struct Eight;
    private struct Sixteen;

    /// <summary>
    /// Row tiles of about <see cref="PrefillTileBytes"/>; per tile, tokens in groups of 16, then 8, 4, 2, 1 (sixteen
    /// tokens per weight unpack measured 1.03-1.04x over eight; its 16 accumulators + 8 unpacked chunks fit the registers).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Prefill512(byte* packed, int nb, int rows, byte* act, long actRow, byte* prep, long prepRow, int n,
                                   float* y, long yStride, int groupStart, int groupEnd)
    {
        int groups = Groups(rows);
        // An even number of groups per tile keeps pairs together for the single-token leftovers.
        int tileGroups = Math.Max(2, PrefillTileBytes / (nb * TileBytes) & ~1);
        for (int g0 = groupStart; g0 < groupEnd; g0 += tileGroups)
        {
            int g1 = Math.Min(groupEnd, g0 + tileGroups);
            int t = 0;
            for (; t + 16 <= n; t += 16)
                Tokens512<Sixteen>(packed, nb, groups, rows, act + t * actRow, actRow, prep + t * prepRow, prepRow, y + t * yStride, yStride, g0, g1);
            if (t + 8 <= n)
            {
                Tokens512<Eight>(packed, nb, groups, rows, act + t * actRow, actRow, prep + t * prepRow, prepRow, y + t * yStride, yStride, g0, g1);
                t += 8;
            }
            if (t + 4 <= n)
            {
                Tokens512<Four>(packed, nb, groups, rows, act + t * actRow, actRow, prep + t * prepRow, prepRow, y + t * yStride, yStride, g0, g1);
                t += 4;
            }
            if (t + 2 <= n)
            {
                Tokens512<Two>(packed, nb, groups, rows, act + t * actRow, actRow, prep + t * prepRow, prepRow, y + t * yStride, yStride, g0, g1);
                t += 2;
            }
            if (t < n)
                Decode512(packed, nb, rows, act + t * actRow, prep + t * prepRow, y + t * yStride, g0, g1);
        }
    }

    /// <summary>
    /// Groups [g0, g1) for 2, 4, 8 or 16 tokens. Up to eight tokens the two groups of a pair run in one pass, reading the
    /// pair blocks in order: with few tokens per weight byte (MoE experts) the pass is bound by DRAM, and one group at a
    /// time would read every other chunk line of each pair block.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Tokens512<TN>(byte* packed, int nb, int groups, int rows, byte* act, long actRow, byte* prep, long prepRow,
                                      float* y, long yStride, int g0, int g1)
    {
        for (int g = g0; g < g1; g++)
        {
            if (typeof(TN) != typeof(Sixteen) && (g & 1) == 0 && g + 1 < g1)
            {
                Vector512<float> mask1 = Vector512.LessThan(Vector512<int>.Indices, Vector512.Create(rows - (g + 1) * GroupRows)).AsSingle();
                Pair512<TN>(packed + (long)(g >> 1) * nb * PairBytes, nb, act, actRow, prep, prepRow, y + g * GroupRows, yStride, mask1);
                g++;
                continue;
            }
            int stride = Locate(packed, nb, groups, g, out byte* scales, out byte* chunks);
            Vector512<float> mask = Vector512.LessThan(Vector512<int>.Indices, Vector512.Create(rows - g * GroupRows)).AsSingle();
            Group512<TN>(scales, chunks, stride, nb, act, actRow, prep, prepRow, y + g * GroupRows, yStride, mask);
        }
    }

    /// <summary>
    /// One group for 2, 4, 8 or 16 tokens: each weight block is unpacked once and used for every token. Results go out
    /// through a row mask (all rows but the padding of a last, partial group); a store without branches or calls lets
    /// the JIT keep all accumulators in registers.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Group512<TN>(byte* scales, byte* chunks, int stride, int nb, byte* act, long actRow, byte* prep, long prepRow,
                                     float* y, long yStride, Vector512<float> mask)
    {
        int k = typeof(TN) == typeof(Sixteen) ? 16 : typeof(TN) == typeof(Eight) ? 8 : typeof(TN) == typeof(Four) ? 4 : 2;
        Vector512<float> c0 = default, c1 = default, c2 = default, c3 = default, c4 = default, c5 = default, c6 = default, c7 = default;
        Vector512<float> c8 = default, c9 = default, c10 = default, c11 = default, c12 = default, c13 = default, c14 = default, c15 = default;
        byte* a = act + 2, p = prep;
        for (int b = 0; b < nb; b++, scales += stride, chunks += stride, a += ActBytes, p += PrepEntryBytes)
        {
            Vector512<byte> v0 = Vector512.Load(chunks), v1 = Vector512.Load(chunks + 64);
            Vector512<byte> v2 = Vector512.Load(chunks + 128), v3 = Vector512.Load(chunks + 192);
            Vector512<byte> l0 = Low(v0), h0 = High(v0), l1 = Low(v1), h1 = High(v1);
            Vector512<byte> l2 = Low(v2), h2 = High(v2), l3 = Low(v3), h3 = High(v3);
            Vector512<float> dw = Fp16.ToFloat(Vector256.Load((ushort*)scales));
            c0 = Token512(c0, l0, h0, l1, h1, l2, h2, l3, h3, dw, a, p);
            c1 = Token512(c1, l0, h0, l1, h1, l2, h2, l3, h3, dw, a + actRow, p + prepRow);
            if (k >= 4)
            {
                c2 = Token512(c2, l0, h0, l1, h1, l2, h2, l3, h3, dw, a + 2 * actRow, p + 2 * prepRow);
                c3 = Token512(c3, l0, h0, l1, h1, l2, h2, l3, h3, dw, a + 3 * actRow, p + 3 * prepRow);
            }
            if (k >= 8)
            {
                c4 = Token512(c4, l0, h0, l1, h1, l2, h2, l3, h3, dw, a + 4 * actRow, p + 4 * prepRow);
                c5 = Token512(c5, l0, h0, l1, h1, l2, h2, l3, h3, dw, a + 5 * actRow, p + 5 * prepRow);
                c6 = Token512(c6, l0, h0, l1, h1, l2, h2, l3, h3, dw, a + 6 * actRow, p + 6 * prepRow);
                c7 = Token512(c7, l0, h0, l1, h1, l2, h2, l3, h3, dw, a + 7 * actRow, p + 7 * prepRow);
            }
            if (k >= 16)
            {
                c8 = Token512(c8, l0, h0, l1, h1, l2, h2, l3, h3, dw, a + 8 * actRow, p + 8 * prepRow);
                c9 = Token512(c9, l0, h0, l1, h1, l2, h2, l3, h3, dw, a + 9 * actRow, p + 9 * prepRow);
                c10 = Token512(c10, l0, h0, l1, h1, l2, h2, l3, h3, dw, a + 10 * actRow, p + 10 * prepRow);
                c11 = Token512(c11, l0, h0, l1, h1, l2, h2, l3, h3, dw, a + 11 * actRow, p + 11 * prepRow);
                c12 = Token512(c12, l0, h0, l1, h1, l2, h2, l3, h3, dw, a + 12 * actRow, p + 12 * prepRow);
                c13 = Token512(c13, l0, h0, l1, h1, l2, h2, l3, h3, dw, a + 13 * actRow, p + 13 * prepRow);
                c14 = Token512(c14, l0, h0, l1, h1, l2, h2, l3, h3, dw, a + 14 * actRow, p + 14 * prepRow);
                c15 = Token512(c15, l0, h0, l1, h1, l2, h2, l3, h3, dw, a + 15 * actRow, p + 15 * prepRow);
            }
        }
        Avx512F.MaskStore(y, mask, c0);
        Avx512F.MaskStore(y + yStride, mask, c1);
        if (k >= 4)
        {
            Avx512F.MaskStore(y + 2 * yStride, mask, c2);
            Avx512F.MaskStore(y + 3 * yStride, mask, c3);
        }
        if (k >= 8)
        {
            Avx512F.MaskStore(y + 4 * yStride, mask, c4);
            Avx512F.MaskStore(y + 5 * yStride, mask, c5);
            Avx512F.MaskStore(y + 6 * yStride, mask, c6);
            Avx512F.MaskStore(y + 7 * yStride, mask, c7);
        }
        if (k >= 16)
        {
            Avx512F.MaskStore(y + 8 * yStride, mask, c8);
            Avx512F.MaskStore(y + 9 * yStride, mask, c9);
            Avx512F.MaskStore(y + 10 * yStride, mask, c10);
            Avx512F.MaskStore(y + 11 * yStride, mask, c11);
            Avx512F.MaskStore(y + 12 * yStride, mask, c12);
            Avx512F.MaskStore(y + 13 * yStride, mask, c13);
            Avx512F.MaskStore(y + 14 * yStride, mask, c14);
            Avx512F.MaskStore(y + 15 * yStride, mask, c15);
        }
    }

    /// <summary>
    /// Both groups of a pair (pair blocks at <paramref name="blk"/>) for 2, 4 or 8 tokens; rows of the second group
    /// are stored through <paramref name="mask1"/> (the first group of a pair is always full).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Pair512<TN>(byte* blk, int nb, byte* act, long actRow, byte* prep, long prepRow, float* y, long yStride,
                                    Vector512<float> mask1)
    {
        int k = typeof(TN) == typeof(Eight) ? 8 : typeof(TN) == typeof(Four) ? 4 : 2;
        Vector512<float> c0 = default, c1 = default, c2 = default, c3 = default, c4 = default, c5 = default, c6 = default, c7 = default;
        Vector512<float> d0 = default, d1 = default, d2 = default, d3 = default, d4 = default, d5 = default, d6 = default, d7 = default;
        byte* a = act + 2, p = prep;
        for (int b = 0; b < nb; b++, blk += PairBytes, a += ActBytes, p += PrepEntryBytes)
        {
            Vector512<byte> v0 = Vector512.Load(blk + 64), v1 = Vector512.Load(blk + 128);
            Vector512<byte> v2 = Vector512.Load(blk + 192), v3 = Vector512.Load(blk + 256);
            Vector512<byte> l0 = Low(v0), h0 = High(v0), l1 = Low(v1), h1 = High(v1);
            Vector512<byte> l2 = Low(v2), h2 = High(v2), l3 = Low(v3), h3 = High(v3);
            Vector512<float> dw = Fp16.ToFloat(Vector256.Load((ushort*)blk));
            c0 = Token512(c0, l0, h0, l1, h1, l2, h2, l3, h3, dw, a, p);
            c1 = Token512(c1, l0, h0, l1, h1, l2, h2, l3, h3, dw, a + actRow, p + prepRow);
            if (k >= 4)
            {
                c2 = Token512(c2, l0, h0, l1, h1, l2, h2, l3, h3, dw, a + 2 * actRow, p + 2 * prepRow);
                c3 = Token512(c3, l0, h0, l1, h1, l2, h2, l3, h3, dw, a + 3 * actRow, p + 3 * prepRow);
            }
            if (k >= 8)
            {
                c4 = Token512(c4, l0, h0, l1, h1, l2, h2, l3, h3, dw, a + 4 * actRow, p + 4 * prepRow);
                c5 = Token512(c5, l0, h0, l1, h1, l2, h2, l3, h3, dw, a + 5 * actRow, p + 5 * prepRow);
                c6 = Token512(c6, l0, h0, l1, h1, l2, h2, l3, h3, dw, a + 6 * actRow, p + 6 * prepRow);
                c7 = Token512(c7, l0, h0, l1, h1, l2, h2, l3, h3, dw, a + 7 * actRow, p + 7 * prepRow);
            }
            v0 = Vector512.Load(blk + 320); v1 = Vector512.Load(blk + 384);
            v2 = Vector512.Load(blk + 448); v3 = Vector512.Load(blk + 512);
            l0 = Low(v0); h0 = High(v0); l1 = Low(v1); h1 = High(v1);
            l2 = Low(v2); h2 = High(v2); l3 = Low(v3); h3 = High(v3);
            dw = Fp16.ToFloat(Vector256.Load((ushort*)(blk + 32)));
            d0 = Token512(d0, l0, h0, l1, h1, l2, h2, l3, h3, dw, a, p);
            d1 = Token512(d1, l0, h0, l1, h1, l2, h2, l3, h3, dw, a + actRow, p + prepRow);
            if (k >= 4)
            {
                d2 = Token512(d2, l0, h0, l1, h1, l2, h2, l3, h3, dw, a + 2 * actRow, p + 2 * prepRow);
                d3 = Token512(d3, l0, h0, l1, h1, l2, h2, l3, h3, dw, a + 3 * actRow, p + 3 * prepRow);
            }
            if (k >= 8)
            {
                d4 = Token512(d4, l0, h0, l1, h1, l2, h2, l3, h3, dw, a + 4 * actRow, p + 4 * prepRow);
                d5 = Token512(d5, l0, h0, l1, h1, l2, h2, l3, h3, dw, a + 5 * actRow, p + 5 * prepRow);
                d6 = Token512(d6, l0, h0, l1, h1, l2, h2, l3, h3, dw, a + 6 * actRow, p + 6 * prepRow);
                d7 = Token512(d7, l0, h0, l1, h1, l2, h2, l3, h3, dw, a + 7 * actRow, p + 7 * prepRow);
            }
        }
        float* z = y + GroupRows;
        c0.Store(y); Avx512F.MaskStore(z, mask1, d0);
        c1.Store(y + yStride); Avx512F.MaskStore(z + yStride, mask1, d1);
        if (k >= 4)
        {
            c2.Store(y + 2 * yStride); Avx512F.MaskStore(z + 2 * yStride, mask1, d2);
            c3.Store(y + 3 * yStride); Avx512F.MaskStore(z + 3 * yStride, mask1, d3);
        }
        if (k >= 8)
        {
            c4.Store(y + 4 * yStride); Avx512F.MaskStore(z + 4 * yStride, mask1, d4);
            c5.Store(y + 5 * yStride); Avx512F.MaskStore(z + 5 * yStride, mask1, d5);
            c6.Store(y + 6 * yStride); Avx512F.MaskStore(z + 6 * yStride, mask1, d6);
            c7.Store(y + 7 * yStride); Avx512F.MaskStore(z + 7 * yStride, mask1, d7);
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector512<float> Token512(Vector512<float> acc, Vector512<byte> l0, Vector512<byte> h0, Vector512<byte> l1, Vector512<byte> h1,
        Vector512<byte> l2, Vector512<byte> h2, Vector512<byte> l3, Vector512<byte> h3, Vector512<float> dw, byte* q, byte* p)
    {
        Vector512<short> s = Dot16(l0, h0, l1, h1, l2, h2, l3, h3, q);
        Vector512<int> isum = Avx512BW.MultiplyAddAdjacent(s, Vector512<short>.One) - Vector512.Create(*(int*)(p + 4));
        return Vector512.FusedMultiplyAdd(Vector512.ConvertToSingle(isum), dw * Vector512.Create(*(float*)p), acc);
    }

    // ---------------------------------------------------------------- 256

    /// <summary>One token, one group: the two 8-row halves of each chunk (bytes [0, 32) and [32, 64)) side by side.</summary>
    private static void Group256(byte* scales, byte* chunks, int stride, int nb, byte* a, byte* p, float* y, int row0, int rows)
    {
        Vector256<float> acc0 = default, acc1 = default;
        for (int b = 0; b < nb; b++, scales += stride, chunks += stride, a += ActBytes, p += PrepEntryBytes)
        {
            Vector256<int> off = Vector256.Create(*(int*)(p + 4));
            Vector256<float> da = Vector256.Create(*(float*)p);
            acc0 = Half256(scales, chunks, a + 2, off, da, acc0);
            acc1 = Half256(scales + 16, chunks + 32, a + 2, off, da, acc1);
        }
        Store(acc0, 8, y, row0, rows);
        Store(acc1, 8, y, row0 + 8, rows);
    }

    /// <summary>One token, both groups of a pair (pair blocks at <paramref name="blk"/>): four 8-row halves per block.</summary>
    private static void Pair256(byte* blk, int nb, byte* a, byte* p, float* y, int row0, int rows)
    {
        Vector256<float> acc0 = default, acc1 = default, acc2 = default, acc3 = default;
        for (int b = 0; b < nb; b++, blk += PairBytes, a += ActBytes, p += PrepEntryBytes)
        {
            Vector256<int> off = Vector256.Create(*(int*)(p + 4));
            Vector256<float> da = Vector256.Create(*(float*)p);
            acc0 = Half256(blk, blk + 64, a + 2, off, da, acc0);
            acc1 = Half256(blk + 16, blk + 96, a + 2, off, da, acc1);
            acc2 = Half256(blk + 32, blk + 320, a + 2, off, da, acc2);
            acc3 = Half256(blk + 48, blk + 352, a + 2, off, da, acc3);
        }
        Store(acc0, 8, y, row0, rows);
        Store(acc1, 8, y, row0 + 8, rows);
        Store(acc2, 8, y, row0 + 16, rows);
        Store(acc3, 8, y, row0 + 24, rows);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<float> Half256(byte* scales, byte* chunks, byte* q, Vector256<int> off, Vector256<float> da, Vector256<float> acc)
    {
        Vector256<byte> m = Vector256.Create((byte)0x0F);
        Vector256<short> s = default;
        for (int c = 0; c < 4; c++)
        {
            Vector256<byte> v = Vector256.Load(chunks + 64 * c);
            s += Avx2.MultiplyAddAdjacent(v & m, Vector256.Create(*(int*)(q + 4 * c)).AsSByte());
            s += Avx2.MultiplyAddAdjacent((v.AsUInt16() >> 4).AsByte() & m, Vector256.Create(*(int*)(q + 16 + 4 * c)).AsSByte());
        }
        Vector256<int> isum = Avx2.MultiplyAddAdjacent(s, Vector256<short>.One) - off;
        Vector256<float> d = Fp16.ToFloat(Vector128.Load((ushort*)scales)) * da;
        return Vector256.FusedMultiplyAdd(Vector256.ConvertToSingle(isum), d, acc);
    }

    /// <summary>
    /// Four tokens on one 8-row half of a group (scales and chunks already offset to the half): each block's weights are
    /// unpacked once for the four tokens. Halves run one after the other to stay within the 16 AVX2 registers.
    /// </summary>
    private static void Half256x4(byte* scales, byte* chunks, int stride, int nb, byte* act, long actRow, byte* prep, long prepRow,
                                  float* y, long yStride, int row0, int rows)
    {
        Vector256<byte> m = Vector256.Create((byte)0x0F);
        Vector256<float> c0 = default, c1 = default, c2 = default, c3 = default;
        byte* a = act + 2, p = prep;
        for (int b = 0; b < nb; b++, scales += stride, chunks += stride, a += ActBytes, p += PrepEntryBytes)
        {
            Vector256<byte> v0 = Vector256.Load(chunks), v1 = Vector256.Load(chunks + 64);
            Vector256<byte> v2 = Vector256.Load(chunks + 128), v3 = Vector256.Load(chunks + 192);
            Vector256<byte> l0 = v0 & m, h0 = (v0.AsUInt16() >> 4).AsByte() & m, l1 = v1 & m, h1 = (v1.AsUInt16() >> 4).AsByte() & m;
            Vector256<byte> l2 = v2 & m, h2 = (v2.AsUInt16() >> 4).AsByte() & m, l3 = v3 & m, h3 = (v3.AsUInt16() >> 4).AsByte() & m;
            Vector256<float> dw = Fp16.ToFloat(Vector128.Load((ushort*)scales));
            c0 = Token256(c0, l0, h0, l1, h1, l2, h2, l3, h3, dw, a, p);
            c1 = Token256(c1, l0, h0, l1, h1, l2, h2, l3, h3, dw, a + actRow, p + prepRow);
            c2 = Token256(c2, l0, h0, l1, h1, l2, h2, l3, h3, dw, a + 2 * actRow, p + 2 * prepRow);
            c3 = Token256(c3, l0, h0, l1, h1, l2, h2, l3, h3, dw, a + 3 * actRow, p + 3 * prepRow);
        }
        Store(c0, 8, y, row0, rows);
        Store(c1, 8, y + yStride, row0, rows);
        Store(c2, 8, y + 2 * yStride, row0, rows);
        Store(c3, 8, y + 3 * yStride, row0, rows);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<float> Token256(Vector256<float> acc, Vector256<byte> l0, Vector256<byte> h0, Vector256<byte> l1, Vector256<byte> h1,
        Vector256<byte> l2, Vector256<byte> h2, Vector256<byte> l3, Vector256<byte> h3, Vector256<float> dw, byte* q, byte* p)
    {
        Vector256<short> s = Avx2.MultiplyAddAdjacent(l0, Vector256.Create(*(int*)(q + 0)).AsSByte());
        s += Avx2.MultiplyAddAdjacent(l1, Vector256.Create(*(int*)(q + 4)).AsSByte());
        s += Avx2.MultiplyAddAdjacent(l2, Vector256.Create(*(int*)(q + 8)).AsSByte());
        s += Avx2.MultiplyAddAdjacent(l3, Vector256.Create(*(int*)(q + 12)).AsSByte());
        s += Avx2.MultiplyAddAdjacent(h0, Vector256.Create(*(int*)(q + 16)).AsSByte());
        s += Avx2.MultiplyAddAdjacent(h1, Vector256.Create(*(int*)(q + 20)).AsSByte());
        s += Avx2.MultiplyAddAdjacent(h2, Vector256.Create(*(int*)(q + 24)).AsSByte());
        s += Avx2.MultiplyAddAdjacent(h3, Vector256.Create(*(int*)(q + 28)).AsSByte());
        Vector256<int> isum = Avx2.MultiplyAddAdjacent(s, Vector256<short>.One) - Vector256.Create(*(int*)(p + 4));
        return Vector256.FusedMultiplyAdd(Vector256.ConvertToSingle(isum), dw * Vector256.Create(*(float*)p), acc);
    }

    // ---------------------------------------------------------------- 128

    /// <summary>One token, one group, SSSE3: four 4-row quarters of each chunk (bytes [16j, 16j + 16)).</summary>
    private static void Group128(byte* scales, byte* chunks, int stride, int nb, byte* a, byte* p, float* y, int row0, int rows)
    {
        Vector128<float> acc0 = default, acc1 = default, acc2 = default, acc3 = default;
        for (int b = 0; b < nb; b++, scales += stride, chunks += stride, a += ActBytes, p += PrepEntryBytes)
        {
            Vector128<int> off = Vector128.Create(*(int*)(p + 4));
            Vector128<float> da = Vector128.Create(*(float*)p);
            acc0 = Quarter128(scales, chunks, a + 2, off, da, acc0);
            acc1 = Quarter128(scales + 8, chunks + 16, a + 2, off, da, acc1);
            acc2 = Quarter128(scales + 16, chunks + 32, a + 2, off, da, acc2);
            acc3 = Quarter128(scales + 24, chunks + 48, a + 2, off, da, acc3);
        }
        Store(acc0, 4, y, row0, rows);
        Store(acc1, 4, y, row0 + 4, rows);
        Store(acc2, 4, y, row0 + 8, rows);
        Store(acc3, 4, y, row0 + 12, rows);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector128<float> Quarter128(byte* scales, byte* chunks, byte* q, Vector128<int> off, Vector128<float> da, Vector128<float> acc)
    {
        Vector128<byte> m = Vector128.Create((byte)0x0F);
        Vector128<short> s = default;
        for (int c = 0; c < 4; c++)
        {
            Vector128<byte> v = Vector128.Load(chunks + 64 * c);
            s += Ssse3.MultiplyAddAdjacent(v & m, Vector128.Create(*(int*)(q + 4 * c)).AsSByte());
            s += Ssse3.MultiplyAddAdjacent((v.AsUInt16() >> 4).AsByte() & m, Vector128.Create(*(int*)(q + 16 + 4 * c)).AsSByte());
        }
        Vector128<int> isum = Sse2.MultiplyAddAdjacent(s, Vector128<short>.One) - off;
        return Quarter128Finish(scales, isum, da, acc);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector128<float> Quarter128Finish(byte* scales, Vector128<int> isum, Vector128<float> da, Vector128<float> acc)
    {
        Vector128<float> d = Fp16.ToFloat(Vector64.Load((ushort*)scales)) * da;
        return Vector128.FusedMultiplyAdd(Vector128.ConvertToSingle(isum), d, acc);
    }

    /// <summary>One token, one group, cross-platform Vector128 only (no SSSE3 byte multiplies).</summary>
    private static void GroupPortable128(byte* scales, byte* chunks, int stride, int nb, byte* a, byte* p, float* y, int row0, int rows)
    {
        Vector128<float> acc0 = default, acc1 = default, acc2 = default, acc3 = default;
        for (int b = 0; b < nb; b++, scales += stride, chunks += stride, a += ActBytes, p += PrepEntryBytes)
        {
            Vector128<int> off = Vector128.Create(*(int*)(p + 4));
            Vector128<float> da = Vector128.Create(*(float*)p);
            acc0 = QuarterPortable(scales, chunks, a + 2, off, da, acc0);
            acc1 = QuarterPortable(scales + 8, chunks + 16, a + 2, off, da, acc1);
            acc2 = QuarterPortable(scales + 16, chunks + 32, a + 2, off, da, acc2);
            acc3 = QuarterPortable(scales + 24, chunks + 48, a + 2, off, da, acc3);
        }
        Store(acc0, 4, y, row0, rows);
        Store(acc1, 4, y, row0 + 4, rows);
        Store(acc2, 4, y, row0 + 8, rows);
        Store(acc3, 4, y, row0 + 12, rows);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector128<float> QuarterPortable(byte* scales, byte* chunks, byte* q, Vector128<int> off, Vector128<float> da, Vector128<float> acc)
    {
        Vector128<byte> m = Vector128.Create((byte)0x0F);
        // 16-bit products: the low 8 bytes of a chunk quarter are its first two rows, the high 8 the other two; the
        // activations' 4 bytes repeat, so both halves widen to the same 8 values. Eight products per lane: |sum| <= 15360.
        Vector128<short> lo = default, hi = default;
        for (int c = 0; c < 4; c++)
        {
            Vector128<byte> v = Vector128.Load(chunks + 64 * c);
            Vector128<byte> vl = v & m, vh = (v.AsUInt16() >> 4).AsByte() & m;
            Vector128<short> al = Vector128.WidenLower(Vector128.Create(*(int*)(q + 4 * c)).AsSByte());
            Vector128<short> ah = Vector128.WidenLower(Vector128.Create(*(int*)(q + 16 + 4 * c)).AsSByte());
            lo += Vector128.WidenLower(vl).AsInt16() * al + Vector128.WidenLower(vh).AsInt16() * ah;
            hi += Vector128.WidenUpper(vl).AsInt16() * al + Vector128.WidenUpper(vh).AsInt16() * ah;
        }
        // Adjacent 16-bit pairs into 32-bit lanes, then adjacent 32-bit pairs into 64-bit lanes (one per row), narrowed.
        Vector128<int> lo32 = ((lo.AsInt32() << 16) >> 16) + (lo.AsInt32() >> 16);
        Vector128<int> hi32 = ((hi.AsInt32() << 16) >> 16) + (hi.AsInt32() >> 16);
        Vector128<long> lo64 = ((lo32.AsInt64() << 32) >> 32) + (lo32.AsInt64() >> 32);
        Vector128<long> hi64 = ((hi32.AsInt64() << 32) >> 32) + (hi32.AsInt64() >> 32);
        Vector128<int> isum = Vector128.Narrow(lo64, hi64) - off;
        return Quarter128Finish(scales, isum, da, acc);
    }

    // ---------------------------------------------------------------- scalar

    /// <summary>One token, one group, the model's loop on the packed bytes.</summary>
    private static void GroupScalar(byte* scales, byte* chunks, int stride, int nb, byte* a, byte* p, float* y, int row0, int rows)
    {
        int count = Math.Min(GroupRows, rows - row0);
        for (int r = 0; r < count; r++)
        {
            float acc = 0f;
            byte* s = scales, c = chunks, q = a + 2, pp = p;
            for (int b = 0; b < nb; b++, s += stride, c += stride, q += ActBytes, pp += PrepEntryBytes)
            {
                int sum = 0;
                for (int i = 0; i < 16; i++)
                {
                    byte w = c[64 * (i / 4) + 4 * r + i % 4];
                    sum += (w & 0xF) * (sbyte)q[i] + (w >> 4) * (sbyte)q[16 + i];
                }
                int isum = sum - *(int*)(pp + 4);
                acc = MathF.FusedMultiplyAdd(isum, Fp16.ToFloat(s + 2 * r) * *(float*)pp, acc);
            }
            y[row0 + r] = acc;
        }
    }
}
