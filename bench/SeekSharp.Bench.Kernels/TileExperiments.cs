using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;
using SeekSharp.Numerics;

namespace SeekSharp.Bench.Kernels;

internal interface IFlags { static abstract int F { get; } }
internal struct Fl0 : IFlags { public static int F => 0; }
internal struct Fl1 : IFlags { public static int F => 1; }
internal struct Fl2 : IFlags { public static int F => 2; }
internal struct Fl4 : IFlags { public static int F => 4; }
internal struct Fl8 : IFlags { public static int F => 8; }
internal struct Fl16 : IFlags { public static int F => 16; }
internal struct Fl32 : IFlags { public static int F => 32; }
internal struct Fl64 : IFlags { public static int F => 64; }
internal struct Fl128 : IFlags { public static int F => 128; }
internal struct Fl132 : IFlags { public static int F => 132; }

/// <summary>Throw-away copies of the Q8_0 two-row x eight-pair tile kernel with parts removed or replaced, to find what
/// bounds it (results are not meaningful for the removal flags).</summary>
internal static unsafe class TileExperiments
{
    // 1: no per-pair scale broadcast (fixed register); 2: no blend; 4: no per-block scale work; 8: second stage of row 1 by shifts;
    // 16: second stage of both rows by shifts on odd pairs; 32: no cvt (int accumulate); 64: no madd
    [MethodImpl(MethodImplOptions.AggressiveOptimization | MethodImplOptions.NoInlining)]
    public static void Dot<TF>(byte* x0, byte* x1, byte* pairs, long ps, float* scales, int scaleStride, int nb, float* d, float* r0, float* r1)
        where TF : struct, IFlags
    {
        int f = TF.F;
        byte* p0 = pairs, p4 = pairs + 4 * ps;
        Vector512<float> c00 = default, c01 = default, c02 = default, c03 = default, c04 = default, c05 = default, c06 = default, c07 = default;
        Vector512<float> c10 = default, c11 = default, c12 = default, c13 = default, c14 = default, c15 = default, c16 = default, c17 = default;
        Vector512<float> fixedScale = Vector512.Create(0.5f);
        for (int b = 0; b < nb; b++, x0 += 34, x1 += 34, scales += scaleStride, p0 += 128, p4 += 128)
        {
            if ((f & 4) == 0)
            {
                float dw0 = Fp16.ToFloat(x0), dw1 = Fp16.ToFloat(x1);
                Vector512<float> da = Vector512.Load(scales);
                (Vector512.Create(dw0) * da).Store(d);
                (Vector512.Create(dw1) * da).Store(d + 16);
            }
            Vector512<byte> u0, u1;
            Vector512<sbyte> n0, n1;
            if ((f & 128) != 0)
            {
                u0 = Vector512.Load(x0 - 2 * b * 34 + 64); u1 = Vector512.Load(x1 - 2 * b * 34 + 64);
                n0 = Vector512.LessThan(Vector512.Load((sbyte*)x0 - 2 * b * 34 + 128), Vector512<sbyte>.Zero); n1 = n0;
            }
            else
            {
                Vector512<sbyte> w0 = Signed512(x0), w1 = Signed512(x1);
                u0 = Avx512BW.Abs(w0); u1 = Avx512BW.Abs(w1);
                n0 = Vector512.LessThan(w0, Vector512<sbyte>.Zero); n1 = Vector512.LessThan(w1, Vector512<sbyte>.Zero);
            }
            S2<TF>(ref c00, ref c10, p0, u0, n0, u1, n1, d, fixedScale, false);
            S2<TF>(ref c01, ref c11, p0 + ps, u0, n0, u1, n1, d + 2, fixedScale, true);
            S2<TF>(ref c02, ref c12, p0 + 2 * ps, u0, n0, u1, n1, d + 4, fixedScale, false);
            S2<TF>(ref c03, ref c13, p0 + 3 * ps, u0, n0, u1, n1, d + 6, fixedScale, true);
            S2<TF>(ref c04, ref c14, p4, u0, n0, u1, n1, d + 8, fixedScale, false);
            S2<TF>(ref c05, ref c15, p4 + ps, u0, n0, u1, n1, d + 10, fixedScale, true);
            S2<TF>(ref c06, ref c16, p4 + 2 * ps, u0, n0, u1, n1, d + 12, fixedScale, false);
            S2<TF>(ref c07, ref c17, p4 + 3 * ps, u0, n0, u1, n1, d + 14, fixedScale, true);
        }
        (c00 + c01 + c02 + c03 + c04 + c05 + c06 + c07).Store(r0);
        (c10 + c11 + c12 + c13 + c14 + c15 + c16 + c17).Store(r1);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector512<int> Stage2(Vector512<short> p, bool shifts)
    {
        if (!shifts)
            return Avx512BW.MultiplyAddAdjacent(p, Vector512<short>.One);
        Vector512<int> x = p.AsInt32();
        return Avx512F.ShiftRightArithmetic(x, 16) + Avx512F.ShiftRightArithmetic(Avx512F.ShiftLeftLogical(x, 16), 16);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void S2<TF>(ref Vector512<float> c0, ref Vector512<float> c1, byte* p,
        Vector512<byte> u0, Vector512<sbyte> n0, Vector512<byte> u1, Vector512<sbyte> n1, float* d, Vector512<float> fixedScale, bool odd)
        where TF : struct, IFlags
    {
        int f = TF.F;
        Vector512<sbyte> a = Vector512.LoadAligned((sbyte*)p), na = Vector512.LoadAligned((sbyte*)(p + 64));
        Vector512<sbyte> b0 = (f & 2) != 0 ? a : Avx512BW.BlendVariable(a, na, n0);
        Vector512<sbyte> b1 = (f & 2) != 0 ? na : Avx512BW.BlendVariable(a, na, n1);
        Vector512<short> q0 = Avx512BW.MultiplyAddAdjacent(u0, b0), q1 = Avx512BW.MultiplyAddAdjacent(u1, b1);
        Vector512<int> s0, s1;
        if ((f & 64) != 0) { s0 = q0.AsInt32(); s1 = q1.AsInt32(); }
        else
        {
            if ((f & 16) != 0 && odd)
            {
                Vector512<int> x = q0.AsInt32();
                s0 = Avx512F.ShiftRightArithmetic(x, 16) + Avx512F.ShiftRightArithmetic(Avx512F.ShiftLeftLogical(x, 16), 16);
            }
            else
                s0 = Avx512BW.MultiplyAddAdjacent(q0, Vector512<short>.One);
            if ((f & 8) != 0 || ((f & 16) != 0 && odd))
            {
                Vector512<int> x = q1.AsInt32();
                s1 = Avx512F.ShiftRightArithmetic(x, 16) + Avx512F.ShiftRightArithmetic(Avx512F.ShiftLeftLogical(x, 16), 16);
            }
            else
                s1 = Avx512BW.MultiplyAddAdjacent(q1, Vector512<short>.One);
        }
        Vector512<float> sc0 = (f & 1) != 0 ? fixedScale : Vector512.Create(*(double*)d).AsSingle();
        Vector512<float> sc1 = (f & 1) != 0 ? fixedScale : Vector512.Create(*(double*)(d + 16)).AsSingle();
        if ((f & 32) != 0)
        {
            c0 = Avx512F.FusedMultiplyAdd(sc0, s0.AsSingle(), c0);
            c1 = Avx512F.FusedMultiplyAdd(sc1, s1.AsSingle(), c1);
        }
        else
        {
            c0 = Avx512F.FusedMultiplyAdd(sc0, Vector512.ConvertToSingle(s0), c0);
            c1 = Avx512F.FusedMultiplyAdd(sc1, Vector512.ConvertToSingle(s1), c1);
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector512<sbyte> Signed512(byte* blk) =>
        Avx512F.PermuteVar16x32(Vector256.Load((int*)(blk + 2)).ToVector512Unsafe(), Vector512.Create(0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6, 7, 7)).AsSByte();
}

/// <summary>256-bit Q8_0 tile prototype: two rows x eight tokens, ggml's sign trick (vpsignb), scale products per block
/// stored once and read by the FMA as an embedded broadcast.</summary>
internal static unsafe class Tile256
{
    [MethodImpl(MethodImplOptions.AggressiveOptimization | MethodImplOptions.NoInlining)]
    public static void Dot(byte* x0, byte* x1, byte* act, float* scales, int nb, float* d, float* r0, float* r1)
    {
        Vector256<float> c00 = default, c01 = default, c02 = default, c03 = default, c04 = default, c05 = default, c06 = default, c07 = default;
        Vector256<float> c10 = default, c11 = default, c12 = default, c13 = default, c14 = default, c15 = default, c16 = default, c17 = default;
        for (int b = 0; b < nb; b++, x0 += 34, x1 += 34, scales += 8, act += 256)
        {
            Vector256<float> da = Vector256.Load(scales);
            (Vector256.Create(Fp16.ToFloat(x0)) * da).Store(d);
            (Vector256.Create(Fp16.ToFloat(x1)) * da).Store(d + 8);
            Vector256<sbyte> w0 = Vector256.Load((sbyte*)(x0 + 2)), w1 = Vector256.Load((sbyte*)(x1 + 2));
            Vector256<byte> u0 = Avx2.Abs(w0), u1 = Avx2.Abs(w1);
            U(ref c00, ref c10, act, u0, w0, u1, w1, d);
            U(ref c01, ref c11, act + 32, u0, w0, u1, w1, d + 1);
            U(ref c02, ref c12, act + 64, u0, w0, u1, w1, d + 2);
            U(ref c03, ref c13, act + 96, u0, w0, u1, w1, d + 3);
            U(ref c04, ref c14, act + 128, u0, w0, u1, w1, d + 4);
            U(ref c05, ref c15, act + 160, u0, w0, u1, w1, d + 5);
            U(ref c06, ref c16, act + 192, u0, w0, u1, w1, d + 6);
            U(ref c07, ref c17, act + 224, u0, w0, u1, w1, d + 7);
        }
        (c00 + c01 + c02 + c03 + c04 + c05 + c06 + c07).Store(r0);
        (c10 + c11 + c12 + c13 + c14 + c15 + c16 + c17).Store(r1);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void U(ref Vector256<float> c0, ref Vector256<float> c1, byte* p, Vector256<byte> u0, Vector256<sbyte> w0, Vector256<byte> u1, Vector256<sbyte> w1, float* d)
    {
        Vector256<sbyte> a = Vector256.LoadAligned((sbyte*)p);
        Vector256<int> s0 = Avx2.MultiplyAddAdjacent(Avx2.MultiplyAddAdjacent(u0, Avx2.Sign(a, w0)), Vector256<short>.One);
        Vector256<int> s1 = Avx2.MultiplyAddAdjacent(Avx2.MultiplyAddAdjacent(u1, Avx2.Sign(a, w1)), Vector256<short>.One);
        c0 = Fma.MultiplyAdd(Vector256.Create(d[0]), Avx.ConvertToVector256Single(s0), c0);
        c1 = Fma.MultiplyAdd(Vector256.Create(d[8]), Avx.ConvertToVector256Single(s1), c1);
    }
}

internal static unsafe class Tile256b
{
    // 2 rows x 4 tokens, vpsignb
    [MethodImpl(MethodImplOptions.AggressiveOptimization | MethodImplOptions.NoInlining)]
    public static void Dot4(byte* x0, byte* x1, byte* act, float* scales, int nb, float* d, float* r0, float* r1)
    {
        Vector256<float> c00 = default, c01 = default, c02 = default, c03 = default;
        Vector256<float> c10 = default, c11 = default, c12 = default, c13 = default;
        for (int b = 0; b < nb; b++, x0 += 34, x1 += 34, scales += 8, act += 128)
        {
            Vector128<float> da = Vector128.Load(scales);
            (Vector128.Create(Fp16.ToFloat(x0)) * da).Store(d);
            (Vector128.Create(Fp16.ToFloat(x1)) * da).Store(d + 8);
            Vector256<sbyte> w0 = Vector256.Load((sbyte*)(x0 + 2)), w1 = Vector256.Load((sbyte*)(x1 + 2));
            Vector256<byte> u0 = Avx2.Abs(w0), u1 = Avx2.Abs(w1);
            U(ref c00, ref c10, act, u0, w0, u1, w1, d);
            U(ref c01, ref c11, act + 32, u0, w0, u1, w1, d + 1);
            U(ref c02, ref c12, act + 64, u0, w0, u1, w1, d + 2);
            U(ref c03, ref c13, act + 96, u0, w0, u1, w1, d + 3);
        }
        (c00 + c01 + c02 + c03).Store(r0);
        (c10 + c11 + c12 + c13).Store(r1);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void U(ref Vector256<float> c0, ref Vector256<float> c1, byte* p, Vector256<byte> u0, Vector256<sbyte> w0, Vector256<byte> u1, Vector256<sbyte> w1, float* d)
    {
        Vector256<sbyte> a = Vector256.LoadAligned((sbyte*)p);
        Vector256<int> s0 = Avx2.MultiplyAddAdjacent(Avx2.MultiplyAddAdjacent(u0, Avx2.Sign(a, w0)), Vector256<short>.One);
        Vector256<int> s1 = Avx2.MultiplyAddAdjacent(Avx2.MultiplyAddAdjacent(u1, Avx2.Sign(a, w1)), Vector256<short>.One);
        c0 = Fma.MultiplyAdd(Vector256.Create(d[0]), Avx.ConvertToVector256Single(s0), c0);
        c1 = Fma.MultiplyAdd(Vector256.Create(d[8]), Avx.ConvertToVector256Single(s1), c1);
    }

    // 2 rows x 8 tokens, mask blend of stored a / -a (64 B per token and block)
    [MethodImpl(MethodImplOptions.AggressiveOptimization | MethodImplOptions.NoInlining)]
    public static void Dot8(byte* x0, byte* x1, byte* act, float* scales, int nb, float* d, float* r0, float* r1)
    {
        Vector256<float> c00 = default, c01 = default, c02 = default, c03 = default, c04 = default, c05 = default, c06 = default, c07 = default;
        Vector256<float> c10 = default, c11 = default, c12 = default, c13 = default, c14 = default, c15 = default, c16 = default, c17 = default;
        for (int b = 0; b < nb; b++, x0 += 34, x1 += 34, scales += 8, act += 512)
        {
            Vector256<float> da = Vector256.Load(scales);
            (Vector256.Create(Fp16.ToFloat(x0)) * da).Store(d);
            (Vector256.Create(Fp16.ToFloat(x1)) * da).Store(d + 8);
            Vector256<sbyte> w0 = Vector256.Load((sbyte*)(x0 + 2)), w1 = Vector256.Load((sbyte*)(x1 + 2));
            Vector256<byte> u0 = Avx2.Abs(w0), u1 = Avx2.Abs(w1);
            Vector256<sbyte> n0 = Vector256.LessThan(w0, Vector256<sbyte>.Zero), n1 = Vector256.LessThan(w1, Vector256<sbyte>.Zero);
            B(ref c00, ref c10, act, u0, n0, u1, n1, d);
            B(ref c01, ref c11, act + 64, u0, n0, u1, n1, d + 1);
            B(ref c02, ref c12, act + 128, u0, n0, u1, n1, d + 2);
            B(ref c03, ref c13, act + 192, u0, n0, u1, n1, d + 3);
            B(ref c04, ref c14, act + 256, u0, n0, u1, n1, d + 4);
            B(ref c05, ref c15, act + 320, u0, n0, u1, n1, d + 5);
            B(ref c06, ref c16, act + 384, u0, n0, u1, n1, d + 6);
            B(ref c07, ref c17, act + 448, u0, n0, u1, n1, d + 7);
        }
        (c00 + c01 + c02 + c03 + c04 + c05 + c06 + c07).Store(r0);
        (c10 + c11 + c12 + c13 + c14 + c15 + c16 + c17).Store(r1);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void B(ref Vector256<float> c0, ref Vector256<float> c1, byte* p, Vector256<byte> u0, Vector256<sbyte> n0, Vector256<byte> u1, Vector256<sbyte> n1, float* d)
    {
        Vector256<sbyte> a = Vector256.LoadAligned((sbyte*)p), na = Vector256.LoadAligned((sbyte*)(p + 32));
        Vector256<int> s0 = Avx2.MultiplyAddAdjacent(Avx2.MultiplyAddAdjacent(u0, Avx512BW.VL.BlendVariable(a, na, n0)), Vector256<short>.One);
        Vector256<int> s1 = Avx2.MultiplyAddAdjacent(Avx2.MultiplyAddAdjacent(u1, Avx512BW.VL.BlendVariable(a, na, n1)), Vector256<short>.One);
        c0 = Fma.MultiplyAdd(Vector256.Create(d[0]), Avx.ConvertToVector256Single(s0), c0);
        c1 = Fma.MultiplyAdd(Vector256.Create(d[8]), Avx.ConvertToVector256Single(s1), c1);
    }
}
