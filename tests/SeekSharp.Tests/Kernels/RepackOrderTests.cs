using System.Buffers.Binary;
using System.Runtime.InteropServices;
using SeekSharp.Gguf;
using Xunit.Abstractions;

namespace SeekSharp.Tests.Kernels;

/// <summary>
/// Research spike: the float order of llama.cpp's default CPU path (CPU_REPACK, "repack on"), which interleaves
/// Q4_0 / Q4_K weights of 8 rows at load and multiplies with ggml_gemv_*_8x8 / ggml_gemm_*_8x8 (AVX-512 build of
/// LLamaSharp.Backend.Cpu 0.30.0). Each test pins a plain scalar model against the native code bit for bit:
/// <list type="bullet">
/// <item>the interleaved weight layouts (built here, compared with ggml's own repack&lt;block, 8, 8&gt;);</item>
/// <item>the 4-token activation quantizers (ggml_quantize_mat_q8_*_4x8) give the same values as per-row from_float;</item>
/// <item>gemv and gemm: one exact integer sum per (row, token, block) and one FMA into a per-row accumulator;</item>
/// <item>ggml_mul_mat through CPU_REPACK (gemm for the first n - n%4 tokens, gemv for the rest) equals the model;</item>
/// <item>repack on and repack off (vec_dot / sgemm) are not bit-identical to each other;</item>
/// <item>for K-quants (Q4_K, Q2_K) gemm and gemv use different FMA groupings, so a token's bits depend on the batch;</item>
/// <item>MUL_MAT_ID (MoE experts) runs gemv for every (token, expert).</item>
/// </list>
/// The model is a test-only description of llama.cpp's arithmetic, not a kernel.
/// </summary>
public sealed unsafe class RepackOrderTests(ITestOutputHelper output)
{
    private const int QK4_0 = 32, Q4_0Bytes = 18, Q4_0x8Bytes = 8 * Q4_0Bytes;
    private const int QK_K = 256, Q4_KBytes = 144, Q4_Kx8Bytes = 8 * Q4_KBytes;
    private const int Q8_0Bytes = 34, Q8_0x4Bytes = 4 * Q8_0Bytes;
    private const int Q8_KBytes = 4 + 256 + 32, Q8_Kx4Bytes = 16 + 1024 + 128;

    // ---------------------------------------------------------------- native entry points (test only)

    private static nint Cpu => GgmlNative.Load("avx512").Cpu;
    private static nint Base => GgmlNative.Load("avx512").Base;

    private static T Export<T>(nint lib, string name) where T : unmanaged
    {
        nint p = NativeLibrary.GetExport(lib, name);
        return *(T*)&p;
    }

    /// <summary>gemv/gemm signature: (n, s, bs, vx, vy, nr, nc).</summary>
    private static void Gemx(string name, int n, float* s, nuint bs, void* vx, void* vy, int nr, int nc) =>
        ((delegate* unmanaged<int, float*, nuint, void*, void*, int, int, void>)Export<nint>(Cpu, name))(n, s, bs, vx, vy, nr, nc);

    /// <summary>ggml_quantize_mat_q8_{0,K}_4x8: 4 consecutive rows of k floats into the 4-row interleaved blocks.</summary>
    private static byte[] QuantizeMat4x8(bool kQuant, float[] x, int offset, int k)
    {
        var dst = new byte[(kQuant ? Q8_Kx4Bytes * (k / QK_K) : Q8_0x4Bytes * (k / 32))];
        nint f = Export<nint>(Cpu, kQuant ? "ggml_quantize_mat_q8_K_4x8" : "ggml_quantize_mat_q8_0_4x8");
        fixed (float* px = &x[offset])
        fixed (byte* pd = dst)
            ((delegate* unmanaged<float*, void*, long, void>)f)(px, pd, k);
        return dst;
    }

    /// <summary>ggml's own ggml::cpu::repack::repack&lt;block, 8, 8&gt; run on a plain 2-D tensor.</summary>
    private static byte[] NativeRepack(GgmlType type, byte[] w, int rows, int cols)
    {
        string symbol = type == GgmlType.Q4_0
            ? "_ZN4ggml3cpu6repack6repackI10block_q4_0Ll8ELl8EEEiP11ggml_tensorPKvm"
            : "_ZN4ggml3cpu6repack6repackI10block_q4_KLl8ELl8EEEiP11ggml_tensorPKvm";
        var init = (delegate* unmanaged<GgmlCpu.InitParams, nint>)Export<nint>(Base, "ggml_init");
        var free = (delegate* unmanaged<nint, void>)Export<nint>(Base, "ggml_free");
        var new2d = (delegate* unmanaged<nint, int, long, long, nint>)Export<nint>(Base, "ggml_new_tensor_2d");
        var getData = (delegate* unmanaged<nint, void*>)Export<nint>(Base, "ggml_get_data");
        var repack = (delegate* unmanaged<nint, void*, nuint, int>)Export<nint>(Cpu, symbol);
        nint ctx = init(new GgmlCpu.InitParams { MemSize = (nuint)(w.Length + (1 << 20)), NoAlloc = 0 });
        try
        {
            nint t = new2d(ctx, (int)type, cols, rows);
            int rc;
            fixed (byte* pw = w)
                rc = repack(t, pw, (nuint)w.Length);
            Assert.Equal(0, rc);
            return new Span<byte>(getData(t), w.Length).ToArray();
        }
        finally
        {
            free(ctx);
        }
    }

    // ---------------------------------------------------------------- layouts, written from repack.cpp's description

    /// <summary>
    /// make_block_q4_0x8 (interleave 8): per 8-row group and block column, the 8 f16 scales, then 16 chunks of 8 bytes,
    /// chunk c = bytes [(c/8)*8, +8) of row c%8, each byte XOR 0x88 (nibble q in 0..15 becomes the signed nibble q-8).
    /// </summary>
    private static byte[] RepackQ4_0x8(byte[] w, int rows, int cols)
    {
        int nb = cols / QK4_0;
        var dst = new byte[w.Length];
        for (int g = 0; g < rows / 8; g++)
            for (int x = 0; x < nb; x++)
            {
                int o = (g * nb + x) * Q4_0x8Bytes;
                for (int i = 0; i < 8; i++)
                    w.AsSpan(((g * 8 + i) * nb + x) * Q4_0Bytes, 2).CopyTo(dst.AsSpan(o + 2 * i));
                for (int c = 0; c < 16; c++)
                {
                    int src = ((g * 8 + c % 8) * nb + x) * Q4_0Bytes + 2 + c / 8 * 8;
                    for (int b = 0; b < 8; b++)
                        dst[o + 16 + c * 8 + b] = (byte)(w[src + b] ^ 0x88);
                }
            }
        return dst;
    }

    /// <summary>The 6-bit scale and min of sub-block j of a block_q4_K (get_scale_min_k4).</summary>
    private static (int Scale, int Min) ScaleMinK4(ReadOnlySpan<byte> s, int j) => j < 4
        ? (s[j] & 63, s[j + 4] & 63)
        : ((s[j + 4] & 0xF) | ((s[j - 4] >> 6) << 4), (s[j + 4] >> 4) | ((s[j] >> 6) << 4));

    /// <summary>
    /// make_block_q4_Kx8 (interleave 8): d[8], dmin[8] (f16), scales[96], qs[1024]. qs chunk c (8 bytes) = bytes
    /// [(c/8)*8, +8) of row c%8. scales: 12 bytes per sub-block k (0..7) holding the 8 rows' 6-bit scale and min:
    /// bytes 0-3 = s[r] | (s[r+4] &amp; 48) &lt;&lt; 2, bytes 4-7 = same for mins, bytes 8-11 = (s[r+4] &amp; 15) | (m[r+4] &amp; 15) &lt;&lt; 4.
    /// </summary>
    private static byte[] RepackQ4_Kx8(byte[] w, int rows, int cols)
    {
        int nb = cols / QK_K;
        var dst = new byte[w.Length];
        Span<int> s = stackalloc int[8], m = stackalloc int[8];
        for (int g = 0; g < rows / 8; g++)
            for (int x = 0; x < nb; x++)
            {
                int o = (g * nb + x) * Q4_Kx8Bytes;
                int Src(int r) => ((g * 8 + r) * nb + x) * Q4_KBytes;
                for (int i = 0; i < 8; i++)
                {
                    w.AsSpan(Src(i), 2).CopyTo(dst.AsSpan(o + 2 * i));
                    w.AsSpan(Src(i) + 2, 2).CopyTo(dst.AsSpan(o + 16 + 2 * i));
                }
                for (int k = 0; k < 8; k++)
                {
                    for (int r = 0; r < 8; r++)
                        (s[r], m[r]) = ScaleMinK4(w.AsSpan(Src(r) + 4, 12), k);
                    int so = o + 32 + 12 * k;
                    for (int r = 0; r < 4; r++)
                    {
                        dst[so + r] = (byte)(s[r] + ((s[r + 4] & 48) << 2));
                        dst[so + 4 + r] = (byte)(m[r] + ((m[r + 4] & 48) << 2));
                        dst[so + 8 + r] = (byte)((s[r + 4] & 15) + ((m[r + 4] & 15) << 4));
                    }
                }
                for (int c = 0; c < 128; c++)
                    w.AsSpan(Src(c % 8) + 16 + c / 8 * 8, 8).CopyTo(dst.AsSpan(o + 128 + c * 8));
            }
        return dst;
    }

    /// <summary>block_q8_0x4 (interleave 8) back to 4 rows of block_q8_0: chunk c = bytes [(c/4)*8, +8) of row c%4.</summary>
    private static byte[][] DeinterleaveQ8_0x4(byte[] src, int k)
    {
        int nb = k / 32;
        var rowsOut = new byte[4][];
        for (int r = 0; r < 4; r++)
        {
            rowsOut[r] = new byte[nb * Q8_0Bytes];
            for (int b = 0; b < nb; b++)
            {
                int o = b * Q8_0x4Bytes;
                src.AsSpan(o + 2 * r, 2).CopyTo(rowsOut[r].AsSpan(b * Q8_0Bytes));
                for (int c = r; c < 16; c += 4)
                    src.AsSpan(o + 8 + c * 8, 8).CopyTo(rowsOut[r].AsSpan(b * Q8_0Bytes + 2 + c / 4 * 8));
            }
        }
        return rowsOut;
    }

    /// <summary>
    /// block_q8_Kx4 (interleave 8: d[4] f32, qs[1024], bsums[64]) back to 4 rows of block_q8_K. qs chunk c = bytes
    /// [(c/4)*8, +8) of row c%4; bsum k of row r sits at (k/4)*16 + r*4 + k%4.
    /// </summary>
    private static byte[][] DeinterleaveQ8_Kx4(byte[] src, int k)
    {
        int nb = k / QK_K;
        var rowsOut = new byte[4][];
        for (int r = 0; r < 4; r++)
        {
            rowsOut[r] = new byte[nb * Q8_KBytes];
            for (int b = 0; b < nb; b++)
            {
                int o = b * Q8_Kx4Bytes, d = b * Q8_KBytes;
                src.AsSpan(o + 4 * r, 4).CopyTo(rowsOut[r].AsSpan(d));
                for (int c = r; c < 128; c += 4)
                    src.AsSpan(o + 16 + c * 8, 8).CopyTo(rowsOut[r].AsSpan(d + 4 + c / 4 * 8));
                for (int j = 0; j < 16; j++)
                    src.AsSpan(o + 16 + 1024 + 2 * (j / 4 * 16 + r * 4 + j % 4), 2).CopyTo(rowsOut[r].AsSpan(d + 260 + 2 * j));
            }
        }
        return rowsOut;
    }

    // ---------------------------------------------------------------- the scalar model of the repacked kernels

    private static float Half(byte[] b, int o) => (float)BinaryPrimitives.ReadHalfLittleEndian(b.AsSpan(o));

    /// <summary>
    /// Repacked Q4_0 x Q8_0 (gemv and gemm alike), per (weight row r, token): acc = 0; for each block b:
    /// isum = sum_i (q_i - 8) * a_i (exact int); acc = fma((float)isum, fl(d_w * d_a), acc). Works on the original
    /// (non-interleaved) weight rows: the interleaving changes no arithmetic.
    /// </summary>
    internal static float ModelQ4_0(byte[] w, int r, byte[] act, int cols, int actOffset = 0)
    {
        int nb = cols / QK4_0;
        float acc = 0f;
        for (int b = 0; b < nb; b++)
        {
            int wo = (r * nb + b) * Q4_0Bytes, ao = actOffset + b * Q8_0Bytes;
            int isum = 0;
            for (int i = 0; i < 16; i++)
            {
                isum += ((w[wo + 2 + i] & 0xF) - 8) * (sbyte)act[ao + 2 + i];
                isum += ((w[wo + 2 + i] >> 4) - 8) * (sbyte)act[ao + 2 + 16 + i];
            }
            acc = MathF.FusedMultiplyAdd(isum, Half(w, wo) * Half(act, ao), acc);
        }
        return acc;
    }

    /// <summary>
    /// Repacked Q4_K x Q8_K, per (weight row r, token): acc = accMin = 0; for each super-block, for each group of
    /// sub-blocks (gemv: one group of all 8 sub-blocks; gemm: 4 groups of 2 sub-blocks, 2g and 2g+1):
    /// isum = sum_j sc_j * sum_i q_ji * a_ji and imin = sum_j m_j * (bsum_2j + bsum_2j+1) over the group (exact ints);
    /// acc = fma((float)isum, fl(d * d_a), acc); accMin = fma((float)imin, fl(dmin * d_a), accMin). Result acc - accMin.
    /// </summary>
    internal static float ModelQ4_K(byte[] w, int r, byte[] act, int cols, bool gemm, int actOffset = 0)
    {
        int group = gemm ? 2 : 8;
        int nb = cols / QK_K;
        float acc = 0f, accMin = 0f;
        for (int b = 0; b < nb; b++)
        {
            int wo = (r * nb + b) * Q4_KBytes, ao = actOffset + b * Q8_KBytes;
            float da = BinaryPrimitives.ReadSingleLittleEndian(act.AsSpan(ao));
            float dd = Half(w, wo) * da, dm = Half(w, wo + 2) * da;
            int isum = 0, imin = 0;
            for (int j = 0; j < 8; j++)
            {
                (int sc, int mn) = ScaleMinK4(w.AsSpan(wo + 4, 12), j);
                int sub = 0;
                for (int i = 0; i < 32; i++)
                {
                    byte q = w[wo + 16 + j / 2 * 32 + i];
                    sub += ((j & 1) == 0 ? q & 0xF : q >> 4) * (sbyte)act[ao + 4 + 32 * j + i];
                }
                isum += sc * sub;
                int bsum = BinaryPrimitives.ReadInt16LittleEndian(act.AsSpan(ao + 260 + 4 * j)) +
                           BinaryPrimitives.ReadInt16LittleEndian(act.AsSpan(ao + 262 + 4 * j));
                imin += mn * bsum;
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

    private static float Model(GgmlType type, byte[] w, int r, byte[] act, int cols, bool gemm) =>
        type == GgmlType.Q4_0 ? ModelQ4_0(w, r, act, cols) : ModelQ4_K(w, r, act, cols, gemm);

    private static GgmlType ActType(GgmlType type) => type == GgmlType.Q4_0 ? GgmlType.Q8_0 : GgmlType.Q8_K;

    private static string Kernel(GgmlType type, bool gemm) =>
        (gemm ? "ggml_gemm_" : "ggml_gemv_") + (type == GgmlType.Q4_0 ? "q4_0_8x8_q8_0" : "q4_K_8x8_q8_K");

    private static byte[] Repack(GgmlType type, byte[] w, int rows, int cols) =>
        type == GgmlType.Q4_0 ? RepackQ4_0x8(w, rows, cols) : RepackQ4_Kx8(w, rows, cols);

    // ---------------------------------------------------------------- tests

    [Theory]
    [InlineData(GgmlType.Q4_0)]
    [InlineData(GgmlType.Q4_K)]
    public void RepackedLayoutMatchesGgmlRepack(GgmlType type)
    {
        if (!GgmlCpu.Available) return;
        var rng = new Random(1);
        int rows = 24, cols = 512;
        byte[] w = ReferenceQuant.RandomWeights(type, rows, cols, rng);
        Assert.Equal(NativeRepack(type, w, rows, cols), Repack(type, w, rows, cols));
    }

    /// <summary>
    /// The gemm path quantizes 4 tokens at once (interleaved); the values equal per-row from_float's, except that a
    /// Q8_K block whose max |x| is reached with both signs (negative first) comes out exactly negated.
    /// </summary>
    [Theory]
    [InlineData(GgmlType.Q8_0)]
    [InlineData(GgmlType.Q8_K)]
    public void FourRowQuantizerMatchesPerRowFromFloat(GgmlType act)
    {
        if (!GgmlCpu.Available) return;
        var rng = new Random(2);
        int cols = 1024;
        for (int trial = 0; trial < 8; trial++)
        {
            float[] x = ReferenceQuant.RandomActivations(4 * cols, rng);
            if (trial == 1) Array.Clear(x, 0, cols);                    // an all-zero row
            if (trial == 2) for (int i = 0; i < cols; i++) x[i] = 0.5f;  // ties and a positive max
            if (trial == 3) { x[cols + 3] = -25f; x[cols + 200] = 25f; }  // max |x| reached with both signs
            if (trial == 4) { x[cols + 3] = 25f; x[cols + 200] = -25f; }
            bool k = act == GgmlType.Q8_K;
            byte[][] rowsOut = k ? DeinterleaveQ8_Kx4(QuantizeMat4x8(true, x, 0, cols), cols)
                                 : DeinterleaveQ8_0x4(QuantizeMat4x8(false, x, 0, cols), cols);
            for (int r = 0; r < 4; r++)
            {
                byte[] perRow = GgmlCpu.FromFloat(act, x.AsSpan(r * cols, cols).ToArray());
                if (k)
                    for (int b = 0; b < cols / QK_K; b++)
                    {
                        // When max |x| is reached by both signs and the negative one comes first, quantize_row_q8_K
                        // keeps d > 0 while the 4-row quantizer picks d < 0: the block is exactly negated (d, qs,
                        // bsums), which leaves every product d_w * d_a * isum, and so the kernels' results, unchanged.
                        var rowBlock = perRow.AsSpan(b * Q8_KBytes, Q8_KBytes);
                        var matBlock = rowsOut[r].AsSpan(b * Q8_KBytes, Q8_KBytes);
                        if (rowBlock.SequenceEqual(matBlock))
                            continue;
                        Assert.True(trial == 3, $"Q8_K trial {trial} row {r} block {b} differs");
                        Assert.Equal(-BinaryPrimitives.ReadSingleLittleEndian(rowBlock), BinaryPrimitives.ReadSingleLittleEndian(matBlock));
                        for (int i = 0; i < QK_K; i++)
                            Assert.Equal(-(sbyte)rowBlock[4 + i], (sbyte)matBlock[4 + i]);
                        for (int i = 0; i < 16; i++)
                            Assert.Equal(-BinaryPrimitives.ReadInt16LittleEndian(rowBlock[(260 + 2 * i)..]),
                                         BinaryPrimitives.ReadInt16LittleEndian(matBlock[(260 + 2 * i)..]));
                    }
                else
                    Assert.Equal(perRow, rowsOut[r]);
            }
        }
    }

    /// <summary>ggml_gemv_*_8x8 (one token) equals the scalar model bit for bit.</summary>
    [Theory]
    [InlineData(GgmlType.Q4_0, 64, 1024)]
    [InlineData(GgmlType.Q4_0, 72, 4096)]
    [InlineData(GgmlType.Q4_K, 64, 1024)]
    [InlineData(GgmlType.Q4_K, 72, 4096)]
    public void GemvMatchesModel(GgmlType type, int rows, int cols)
    {
        if (!GgmlCpu.Available) return;
        var rng = new Random(3 + rows);
        byte[] w = ReferenceQuant.RandomWeights(type, rows, cols, rng);
        byte[] packed = Repack(type, w, rows, cols);
        for (int t = 0; t < 4; t++)
        {
            byte[] act = GgmlCpu.FromFloat(ActType(type), ReferenceQuant.RandomActivations(cols, rng));
            var s = new float[rows];
            fixed (float* ps = s)
            fixed (byte* pw = packed)
            fixed (byte* pa = act)
                Gemx(Kernel(type, false), cols, ps, (nuint)rows, pw, pa, 1, rows);
            for (int r = 0; r < rows; r++)
                AssertSame(Model(type, w, r, act, cols, gemm: false), s[r], $"{type} gemv t={t} r={r}");
        }
    }

    /// <summary>
    /// ggml_gemm_*_8x8 (tokens in groups of 4, activations from ggml_quantize_mat_*_4x8) equals the same model.
    /// nr = 16 and 20 run the AVX-512 16x16 tiles plus the 4-token remainder loop; rows = 72 adds a 8-row remainder.
    /// </summary>
    [Theory]
    [InlineData(GgmlType.Q4_0, 64, 4)]
    [InlineData(GgmlType.Q4_0, 72, 20)]
    [InlineData(GgmlType.Q4_K, 64, 4)]
    [InlineData(GgmlType.Q4_K, 72, 20)]
    public void GemmMatchesModel(GgmlType type, int rows, int tokens)
    {
        if (!GgmlCpu.Available) return;
        var rng = new Random(4 + tokens);
        int cols = 1024;
        bool k = type == GgmlType.Q4_K;
        byte[] w = ReferenceQuant.RandomWeights(type, rows, cols, rng);
        byte[] packed = Repack(type, w, rows, cols);
        float[] x = ReferenceQuant.RandomActivations(tokens * cols, rng);
        int groupBytes = k ? Q8_Kx4Bytes * (cols / QK_K) : Q8_0x4Bytes * (cols / 32);
        var interleaved = new byte[tokens / 4 * groupBytes];
        var acts = new byte[tokens][];
        for (int g = 0; g < tokens / 4; g++)
        {
            byte[] q = QuantizeMat4x8(k, x, g * 4 * cols, cols);
            q.CopyTo(interleaved, g * groupBytes);
            byte[][] rowsOut = k ? DeinterleaveQ8_Kx4(q, cols) : DeinterleaveQ8_0x4(q, cols);
            for (int r = 0; r < 4; r++)
                acts[g * 4 + r] = rowsOut[r];
        }
        var s = new float[tokens * rows];
        fixed (float* ps = s)
        fixed (byte* pw = packed)
        fixed (byte* pa = interleaved)
            Gemx(Kernel(type, true), cols, ps, (nuint)rows, pw, pa, tokens, rows);
        for (int t = 0; t < tokens; t++)
            for (int r = 0; r < rows; r++)
                AssertSame(Model(type, w, r, acts[t], cols, gemm: true), s[t * rows + r], $"{type} gemm t={t} r={r}");
    }

    /// <summary>
    /// ggml_mul_mat with the weights in CPU_REPACK (llama.cpp's default) for several token counts: the first
    /// n - n%4 tokens run gemm, the rest gemv; every output equals the model fed with per-row from_float activations,
    /// so the split does not change any value.
    /// </summary>
    [Theory]
    [InlineData(GgmlType.Q4_0)]
    [InlineData(GgmlType.Q4_K)]
    public void RepackedMulMatMatchesModel(GgmlType type)
    {
        if (!GgmlCpu.Available) return;
        var rng = new Random(5);
        int rows = 40, cols = 1024;
        byte[] w = ReferenceQuant.RandomWeights(type, rows, cols, rng);
        foreach (int n in new[] { 1, 3, 4, 5, 9 })
        {
            float[] x = ReferenceQuant.RandomActivations(n * cols, rng);
            float[]? y = GgmlCpu.MulMatRepacked(type, w, rows, cols, x, n, out string? buffer);
            if (y is null) return;
            Assert.Equal("CPU_REPACK", buffer);
            for (int t = 0; t < n; t++)
            {
                byte[] act = GgmlCpu.FromFloat(ActType(type), x.AsSpan(t * cols, cols).ToArray());
                for (int r = 0; r < rows; r++)
                    AssertSame(Model(type, w, r, act, cols, gemm: t < n - n % 4), y[t * rows + r], $"{type} n={n} t={t} r={r}");
            }
        }
    }

    /// <summary>
    /// Repack on vs repack off (plain CPU buffer: vec_dot, or llamafile sgemm for batches) on the same data: how many
    /// outputs differ and by how many ulps. They agree to rounding but are not bit-identical.
    /// </summary>
    [Theory]
    [InlineData(GgmlType.Q4_0)]
    [InlineData(GgmlType.Q4_K)]
    [InlineData(GgmlType.Q2_K)]
    public void RepackOnAndOffDiffer(GgmlType type)
    {
        if (!GgmlCpu.Available) return;
        var rng = new Random(6);
        int rows = 64, cols = 2048;
        byte[] w = ReferenceQuant.RandomWeights(type, rows, cols, rng);
        foreach (int n in new[] { 1, 8 })
        {
            float[] x = ReferenceQuant.RandomActivations(n * cols, rng);
            float[]? on = GgmlCpu.MulMatRepacked(type, w, rows, cols, x, n, out _);
            if (on is null) return;
            float[] off = GgmlCpu.MulMat(type, w, rows, cols, x, n, 1);
            int differ = 0;
            long maxUlp = 0;
            for (int i = 0; i < on.Length; i++)
            {
                long ulp = Math.Abs((long)BitConverter.SingleToInt32Bits(on[i]) - BitConverter.SingleToInt32Bits(off[i]));
                if (ulp != 0) differ++;
                maxUlp = Math.Max(maxUlp, ulp);
                Assert.True(Math.Abs(on[i] - off[i]) <= 1e-4f * Math.Max(1f, Math.Abs(off[i])), $"{type} n={n} i={i}: {on[i]} vs {off[i]}");
            }
            output.WriteLine($"{type} n={n}: {differ}/{on.Length} outputs differ between repack on and off, max {maxUlp} ulp");
            Assert.True(differ > 0, $"{type} n={n}: repack on and off unexpectedly bit-identical");
        }
    }

    /// <summary>
    /// K-quants (Q4_K, Q2_K): the same token gets different bits depending on whether it went through gemm (the first
    /// n - n%4 tokens of the batch) or gemv (the rest, and decode). Q4_0's gemm and gemv share one order, so its
    /// results do not depend on the batch.
    /// </summary>
    [Theory]
    [InlineData(GgmlType.Q4_0)]
    [InlineData(GgmlType.Q4_K)]
    [InlineData(GgmlType.Q2_K)]
    public void RepackedResultDependsOnBatchForKQuantsOnly(GgmlType type)
    {
        if (!GgmlCpu.Available) return;
        var rng = new Random(7);
        int rows = 64, cols = 2048, n = 4;
        byte[] w = ReferenceQuant.RandomWeights(type, rows, cols, rng);
        float[] x = ReferenceQuant.RandomActivations(n * cols, rng);
        float[]? batch = GgmlCpu.MulMatRepacked(type, w, rows, cols, x, n, out _);
        if (batch is null) return;
        int differ = 0;
        for (int t = 0; t < n; t++)
        {
            float[] single = GgmlCpu.MulMatRepacked(type, w, rows, cols, x.AsSpan(t * cols, cols).ToArray(), 1, out _)!;
            for (int r = 0; r < rows; r++)
                if (BitConverter.SingleToInt32Bits(single[r]) != BitConverter.SingleToInt32Bits(batch[t * rows + r]))
                    differ++;
        }
        output.WriteLine($"{type}: {differ}/{n * rows} outputs differ between a 4-token batch (gemm) and 1-token runs (gemv)");
        if (type == GgmlType.Q4_0)
            Assert.Equal(0, differ);
        else
            Assert.True(differ > 0);
    }

    /// <summary>
    /// Q2_K x Q8_K (checked through ggml_mul_mat only, not against gemv/gemm directly): acc = accMin = 0; for each
    /// super-block, for each group of sub-blocks (16 values each; sc = scales[k] &amp; 15, m = scales[k] &gt;&gt; 4):
    /// isum = sum_k sc_k * sum_i q_ki * a_ki, imin = sum_k m_k * bsum_k over the group; acc = fma(isum, fl(d * d_a), acc);
    /// accMin = fma(imin, fl(dmin * d_a), accMin). Result acc - accMin. <paramref name="groups"/> lists the sub-block
    /// groups in FMA order.
    /// </summary>
    private static float ModelQ2_K(byte[] w, int r, byte[] act, int cols, int[][] groups)
    {
        const int q2Bytes = 84;
        int nb = cols / QK_K;
        float acc = 0f, accMin = 0f;
        for (int b = 0; b < nb; b++)
        {
            int wo = (r * nb + b) * q2Bytes, ao = b * Q8_KBytes;
            float da = BinaryPrimitives.ReadSingleLittleEndian(act.AsSpan(ao));
            float dd = Half(w, wo + 80) * da, dm = Half(w, wo + 82) * da;
            foreach (int[] g in groups)
            {
                int isum = 0, imin = 0;
                foreach (int k in g)
                {
                    int half = k / 8, j = k % 8 / 2, sub = 0;
                    for (int l = 0; l < 16; l++)
                    {
                        int e = 16 * k + l;
                        int q = (w[wo + 16 + half * 32 + (k % 2) * 16 + l] >> (2 * j)) & 3;
                        sub += q * (sbyte)act[ao + 4 + e];
                    }
                    isum += (w[wo + k] & 15) * sub;
                    imin += (w[wo + k] >> 4) * BinaryPrimitives.ReadInt16LittleEndian(act.AsSpan(ao + 260 + 2 * k));
                }
                acc = MathF.FusedMultiplyAdd(isum, dd, acc);
                accMin = MathF.FusedMultiplyAdd(imin, dm, accMin);
            }
        }
        return acc - accMin;
    }

    /// <summary>
    /// Q2_K through CPU_REPACK (AVX-512 builds only): gemv tokens use one FMA pair per super-block, gemm tokens two
    /// (sub-blocks 0-7 = the first 128 values, then 8-15). Found by trying groupings; pinned bit for bit here.
    /// </summary>
    [Fact]
    public void RepackedQ2_KMulMatMatchesModel()
    {
        if (!GgmlCpu.Available) return;
        var rng = new Random(9);
        int rows = 40, cols = 1024;
        int[][] gemvGroups = [Enumerable.Range(0, 16).ToArray()];
        int[][] gemmGroups = [Enumerable.Range(0, 8).ToArray(), Enumerable.Range(8, 8).ToArray()];
        byte[] w = ReferenceQuant.RandomWeights(GgmlType.Q2_K, rows, cols, rng);
        foreach (int n in new[] { 1, 4, 5, 9 })
        {
            float[] x = ReferenceQuant.RandomActivations(n * cols, rng);
            float[]? y = GgmlCpu.MulMatRepacked(GgmlType.Q2_K, w, rows, cols, x, n, out _);
            if (y is null) return;
            for (int t = 0; t < n; t++)
            {
                byte[] act = GgmlCpu.FromFloat(GgmlType.Q8_K, x.AsSpan(t * cols, cols).ToArray());
                for (int r = 0; r < rows; r++)
                    AssertSame(ModelQ2_K(w, r, act, cols, t < n - n % 4 ? gemmGroups : gemvGroups), y[t * rows + r], $"Q2_K n={n} t={t} r={r}");
            }
        }
    }

    /// <summary>
    /// Extreme integers: every weight nibble/crumb at its maximum (or Q4_0's -8) and activations at +-127 everywhere,
    /// so the kernels' 16-bit intermediate sums (maddubs, 16-bit adds) would show any saturation or wrap. None does:
    /// the model's exact 32-bit block sums still match, through gemm and gemv.
    /// </summary>
    [Theory]
    [InlineData(GgmlType.Q4_0, 0x00)]
    [InlineData(GgmlType.Q4_0, 0xFF)]
    [InlineData(GgmlType.Q4_K, 0xFF)]
    [InlineData(GgmlType.Q2_K, 0xFF)]
    public void ExtremeIntegersStayExact(GgmlType type, int fill)
    {
        if (!GgmlCpu.Available) return;
        var rng = new Random(10);
        int rows = 16, cols = 512, n = 5;
        byte[] w = ReferenceQuant.RandomWeights(type, rows, cols, rng);
        int blockBytes = GgmlTypeInfo.TypeSize(type);
        for (int b = 0; b < w.Length / blockBytes; b++)
        {
            var blk = w.AsSpan(b * blockBytes, blockBytes);
            switch (type)
            {
                case GgmlType.Q4_0: blk[2..].Fill((byte)fill); break;
                case GgmlType.Q4_K: blk[4..16].Fill(0xFF); blk[16..].Fill((byte)fill); break;  // all scales/mins 63
                default: blk[..80].Fill((byte)fill); break;                                      // Q2_K scales 15/15, q = 3
            }
        }
        var x = new float[n * cols];
        for (int i = 0; i < x.Length; i++)
            x[i] = (i / cols) % 2 == 0 ? 1f : -1f;  // every quant at +-127 (Q8_K's sign convention flips it)
        float[]? y = GgmlCpu.MulMatRepacked(type, w, rows, cols, x, n, out _);
        if (y is null) return;
        int[][] q2Gemv = [Enumerable.Range(0, 16).ToArray()];
        int[][] q2Gemm = [Enumerable.Range(0, 8).ToArray(), Enumerable.Range(8, 8).ToArray()];
        for (int t = 0; t < n; t++)
        {
            bool gemm = t < n - n % 4;
            byte[] act = GgmlCpu.FromFloat(ActType(type), x.AsSpan(t * cols, cols).ToArray());
            for (int r = 0; r < rows; r++)
            {
                float expected = type == GgmlType.Q2_K
                    ? ModelQ2_K(w, r, act, cols, gemm ? q2Gemm : q2Gemv)
                    : Model(type, w, r, act, cols, gemm);
                AssertSame(expected, y[t * rows + r], $"{type} fill {fill:X2} t={t} r={r}");
            }
        }
    }

    /// <summary>
    /// MUL_MAT_ID (MoE experts) with the expert weights in CPU_REPACK: every (token, expert) pair runs gemv on
    /// from_float activations, whatever the batch size, so even Q4_K uses the gemv order for all tokens.
    /// </summary>
    [Theory]
    [InlineData(GgmlType.Q4_0)]
    [InlineData(GgmlType.Q4_K)]
    public void RepackedMulMatIdUsesGemvOrder(GgmlType type)
    {
        if (!GgmlCpu.Available) return;
        var rng = new Random(8);
        int rows = 32, cols = 1024, experts = 4, used = 2, n = 8;
        long expertBytes = GgmlTypeInfo.RowSize(type, cols) * rows;
        byte[] w = ReferenceQuant.RandomWeights(type, rows * experts, cols, rng);
        float[] x = ReferenceQuant.RandomActivations(n * cols, rng);
        var ids = new int[n * used];
        for (int t = 0; t < n; t++)
        {
            ids[t * used] = rng.Next(experts);
            ids[t * used + 1] = (ids[t * used] + 1 + rng.Next(experts - 1)) % experts;
        }
        float[]? y = GgmlCpu.MulMatIdRepacked(type, w, rows, cols, experts, x, ids, used, n);
        if (y is null) return;
        for (int t = 0; t < n; t++)
        {
            byte[] act = GgmlCpu.FromFloat(ActType(type), x.AsSpan(t * cols, cols).ToArray());
            for (int k = 0; k < used; k++)
            {
                byte[] we = w.AsSpan((int)(ids[t * used + k] * expertBytes), (int)expertBytes).ToArray();
                for (int r = 0; r < rows; r++)
                    AssertSame(Model(type, we, r, act, cols, gemm: false), y[(t * used + k) * rows + r], $"{type} t={t} k={k} r={r}");
            }
        }
    }

    private static void AssertSame(float expected, float actual, string what)
    {
        if (BitConverter.SingleToInt32Bits(expected) != BitConverter.SingleToInt32Bits(actual))
            Assert.Fail($"{what}: model {expected:R} ({BitConverter.SingleToInt32Bits(expected):X8}), ggml {actual:R} ({BitConverter.SingleToInt32Bits(actual):X8})");
    }
}
