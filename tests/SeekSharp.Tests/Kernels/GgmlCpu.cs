using System.Runtime.InteropServices;
using SeekSharp.Gguf;

namespace SeekSharp.Tests.Kernels;

/// <summary>
/// llama.cpp's own CPU kernels (the AVX-512 build shipped with LLamaSharp.Backend.Cpu), reached through
/// ggml_get_type_traits_cpu exactly as ggml's mul_mat does: from_float of the vec_dot type, then vec_dot.
/// </summary>
internal static unsafe class GgmlCpu
{
    [StructLayout(LayoutKind.Sequential)]
    private struct TypeTraitsCpu
    {
        public delegate* unmanaged<float*, void*, long, void> FromFloat;
        public delegate* unmanaged<int, float*, nuint, void*, nuint, void*, nuint, int, void> VecDot;
        public int VecDotType;
        public long Nrows;
    }

    private static readonly Lazy<IntPtr> s_lib = new(Load);
    private static delegate* unmanaged<int, TypeTraitsCpu*> s_traits;

    public static string NativeDir => Path.Combine(AppContext.BaseDirectory, "runtimes", "linux-x64", "native", "avx512");

    /// <summary>True when the AVX-512 build can run here (Linux x64 with AVX-512 F/BW).</summary>
    public static bool Available =>
        OperatingSystem.IsLinux() && RuntimeInformation.ProcessArchitecture == Architecture.X64 &&
        System.Runtime.Intrinsics.X86.Avx512BW.IsSupported && File.Exists(Path.Combine(NativeDir, "libggml-cpu.so"));

    private static IntPtr Load()
    {
        // libggml-cpu needs libggml-base; loading it first by full path satisfies the dependency by soname.
        NativeLibrary.Load(Path.Combine(NativeDir, "libggml-base.so"));
        IntPtr cpu = NativeLibrary.Load(Path.Combine(NativeDir, "libggml-cpu.so"));
        // ggml_cpu_init fills the fp16 tables the kernels read.
        ((delegate* unmanaged<void>)NativeLibrary.GetExport(cpu, "ggml_cpu_init"))();
        s_traits = (delegate* unmanaged<int, TypeTraitsCpu*>)NativeLibrary.GetExport(cpu, "ggml_get_type_traits_cpu");
        return cpu;
    }

    private static TypeTraitsCpu* Traits(GgmlType t)
    {
        _ = s_lib.Value;
        return s_traits((int)t);
    }

    public static GgmlType VecDotType(GgmlType weight) => (GgmlType)Traits(weight)->VecDotType;

    /// <summary>Converts f32 values into <paramref name="type"/> with ggml's CPU from_float.</summary>
    public static byte[] FromFloat(GgmlType type, float[] x)
    {
        var dst = new byte[GgmlTypeInfo.RowSize(type, x.Length)];
        fixed (float* px = x)
        fixed (byte* pd = dst)
            Traits(type)->FromFloat(px, pd, x.Length);
        return dst;
    }

    /// <summary>ggml's vec_dot for <paramref name="weight"/> rows against an activation row in its vec_dot type.</summary>
    public static float VecDot(GgmlType weight, byte* w, byte* act, int n)
    {
        float s;
        Traits(weight)->VecDot(n, &s, 0, w, 0, act, 0, 1);
        return s;
    }
}
