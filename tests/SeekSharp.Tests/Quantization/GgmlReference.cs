using System.Runtime.InteropServices;
using SeekSharp.Gguf;

namespace SeekSharp.Tests.Quantization;

/// <summary>
/// Direct calls into llama.cpp's ggml (from the LLamaSharp.Backend.Cpu package) to serve as the bit-exact reference.
/// The libraries are loaded by full path from the test output folder.
/// </summary>
internal static unsafe class GgmlReference
{
    private static readonly nint s_base;
    private static readonly nint s_cpu;

    static GgmlReference()
    {
        (s_base, s_cpu) = GgmlNative.Load(GgmlNative.BestVariant);
    }

    private static nint Base(string name) => NativeLibrary.GetExport(s_base, name);

    private static nint Cpu(string name) => NativeLibrary.GetExport(s_cpu, name);

    /// <summary>ggml's own name for a type's row functions (e.g. "q4_K").</summary>
    private static string Suffix(GgmlType type) => GgmlTypeInfo.Name(type);

    /// <summary>ggml_quantize_chunk for one row (no importance matrix), or the row _ref function for the activation-only types.</summary>
    public static byte[] Quantize(GgmlType type, ReadOnlySpan<float> src)
    {
        byte[] dst = new byte[GgmlTypeInfo.RowSize(type, src.Length)];
        fixed (float* s = src)
        fixed (byte* d = dst)
        {
            if (type is GgmlType.Q8_1 or GgmlType.Q8_K)
            {
                var fn = (delegate* unmanaged<float*, void*, long, void>)Base($"quantize_row_{Suffix(type)}_ref");
                fn(s, d, src.Length);
            }
            else
            {
                var fn = (delegate* unmanaged<int, float*, void*, long, long, long, float*, nuint>)Base("ggml_quantize_chunk");
                nuint written = fn((int)type, s, d, 0, 1, src.Length, null);
                if (written != (nuint)dst.Length)
                    throw new InvalidOperationException($"ggml_quantize_chunk wrote {written} bytes, expected {dst.Length}");
            }
        }
        return dst;
    }

    /// <summary>True when ggml exports a dequantize_row_* for the type.</summary>
    public static bool HasDequantizer(GgmlType type) =>
        type is not GgmlType.Q8_1 && NativeLibrary.TryGetExport(s_base, $"dequantize_row_{Suffix(type)}", out _);

    public static float[] Dequantize(GgmlType type, ReadOnlySpan<byte> src, int count)
    {
        float[] dst = new float[count];
        fixed (byte* s = src)
        fixed (float* d = dst)
        {
            var fn = (delegate* unmanaged<void*, float*, long, void>)Base($"dequantize_row_{Suffix(type)}");
            fn(s, d, count);
        }
        return dst;
    }

    public static void Fp16ToFp32Row(ReadOnlySpan<ushort> src, Span<float> dst) => Call(Base("ggml_fp16_to_fp32_row"), src, dst);

    public static void Bf16ToFp32Row(ReadOnlySpan<ushort> src, Span<float> dst) => Call(Base("ggml_bf16_to_fp32_row"), src, dst);

    public static void Fp32ToFp16Row(ReadOnlySpan<float> src, Span<ushort> dst) => Call(Base("ggml_fp32_to_fp16_row"), src, dst);

    public static void Fp32ToBf16RowRef(ReadOnlySpan<float> src, Span<ushort> dst) => Call(Base("ggml_fp32_to_bf16_row_ref"), src, dst);

    /// <summary>The CPU backend's conversion (F16C vcvtph2ps on this machine).</summary>
    public static void CpuFp16ToFp32(ReadOnlySpan<ushort> src, Span<float> dst) => Call(Cpu("ggml_cpu_fp16_to_fp32"), src, dst);

    /// <summary>The CPU backend's conversion (F16C vcvtps2ph on this machine).</summary>
    public static void CpuFp32ToFp16(ReadOnlySpan<float> src, Span<ushort> dst) => Call(Cpu("ggml_cpu_fp32_to_fp16"), src, dst);

    private static void Call<TIn, TOut>(nint fn, ReadOnlySpan<TIn> src, Span<TOut> dst) where TIn : unmanaged where TOut : unmanaged
    {
        if (dst.Length < src.Length)
            throw new ArgumentException("destination too short");
        fixed (TIn* s = src)
        fixed (TOut* d = dst)
            ((delegate* unmanaged<TIn*, TOut*, long, void>)fn)(s, d, src.Length);
    }
}
