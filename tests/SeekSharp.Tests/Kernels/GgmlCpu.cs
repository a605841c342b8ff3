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

    public static string NativeDir => GgmlNative.Directory("avx512");

    /// <summary>True when the AVX-512 build can run here (Linux x64 with AVX-512 F/BW).</summary>
    public static bool Available =>
        OperatingSystem.IsLinux() && RuntimeInformation.ProcessArchitecture == Architecture.X64 &&
        System.Runtime.Intrinsics.X86.Avx512BW.IsSupported && File.Exists(Path.Combine(NativeDir, "libggml-cpu.so"));

    private static IntPtr Load()
    {
        IntPtr cpu = GgmlNative.Load("avx512").Cpu;
        s_traits = (delegate* unmanaged<int, TypeTraitsCpu*>)NativeLibrary.GetExport(cpu, "ggml_get_type_traits_cpu");
        return cpu;
    }

    private static IntPtr BaseLibrary => GgmlNative.Load("avx512").Base;

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

    /// <summary>ggml_init_params (also used by <see cref="RepackOrderTests"/>).</summary>
    [StructLayout(LayoutKind.Sequential)]
    internal struct InitParams
    {
        public nuint MemSize;
        public void* MemBuffer;
        public byte NoAlloc;
    }

    /// <summary>
    /// ggml_mul_mat evaluated by the CPU backend on a plain context (what llama.cpp runs for a weight in a normal CPU
    /// buffer, llamafile sgemm included; no repacked "extra" buffer): y[t*rows + r] = dot(row r, x[t]).
    /// </summary>
    public static float[] MulMat(GgmlType type, byte[] weights, int rows, int cols, float[] x, int n, int threads)
    {
        _ = s_lib.Value;
        IntPtr baseLib = BaseLibrary;
        var init = (delegate* unmanaged<InitParams, IntPtr>)NativeLibrary.GetExport(baseLib, "ggml_init");
        var free = (delegate* unmanaged<IntPtr, void>)NativeLibrary.GetExport(baseLib, "ggml_free");
        var new2d = (delegate* unmanaged<IntPtr, int, long, long, IntPtr>)NativeLibrary.GetExport(baseLib, "ggml_new_tensor_2d");
        var mulMat = (delegate* unmanaged<IntPtr, IntPtr, IntPtr, IntPtr>)NativeLibrary.GetExport(baseLib, "ggml_mul_mat");
        var newGraph = (delegate* unmanaged<IntPtr, IntPtr>)NativeLibrary.GetExport(baseLib, "ggml_new_graph");
        var expand = (delegate* unmanaged<IntPtr, IntPtr, void>)NativeLibrary.GetExport(baseLib, "ggml_build_forward_expand");
        var getData = (delegate* unmanaged<IntPtr, void*>)NativeLibrary.GetExport(baseLib, "ggml_get_data");
        var compute = (delegate* unmanaged<IntPtr, IntPtr, int, int>)NativeLibrary.GetExport(s_lib.Value, "ggml_graph_compute_with_ctx");

        long size = weights.Length + (long)x.Length * 4 + (long)rows * n * 4 + 8L * n * cols + (16 << 20);
        IntPtr ctx = init(new InitParams { MemSize = (nuint)size, MemBuffer = null, NoAlloc = 0 });
        try
        {
            IntPtr a = new2d(ctx, (int)type, cols, rows);
            IntPtr b = new2d(ctx, (int)GgmlType.F32, cols, n);
            weights.AsSpan().CopyTo(new Span<byte>(getData(a), weights.Length));
            x.AsSpan(0, n * cols).CopyTo(new Span<float>(getData(b), n * cols));
            IntPtr c = mulMat(ctx, a, b);
            IntPtr gf = newGraph(ctx);
            expand(gf, c);
            int status = compute(ctx, gf, threads);
            if (status != 0)
                throw new InvalidOperationException($"ggml_graph_compute failed: {status}");
            return new Span<float>(getData(c), rows * n).ToArray();
        }
        finally
        {
            free(ctx);
        }
    }

    /// <summary>
    /// ggml_mul_mat with the weights in the CPU backend's first "extra" buffer type (CPU_REPACK), which is where
    /// llama.cpp puts weights by default (use_extra_bufts = true): the product then runs the repacked gemv/gemm kernels.
    /// Returns null when no extra buffer type exists. Only call it for types the buffer repacks (in this x86 build:
    /// Q4_0, Q4_K, Q2_K, IQ4_NL); ggml aborts the process for others.
    /// </summary>
    public static float[]? MulMatRepacked(GgmlType type, byte[] weights, int rows, int cols, float[] x, int n, out string? bufferName)
    {
        _ = s_lib.Value;
        bufferName = null;
        IntPtr baseLib = BaseLibrary;
        var cpuInit = (delegate* unmanaged<IntPtr>)NativeLibrary.GetExport(s_lib.Value, "ggml_backend_cpu_init");
        var setThreads = (delegate* unmanaged<IntPtr, int, void>)NativeLibrary.GetExport(s_lib.Value, "ggml_backend_cpu_set_n_threads");
        var cpuBuft = (delegate* unmanaged<IntPtr>)NativeLibrary.GetExport(s_lib.Value, "ggml_backend_cpu_buffer_type");
        var getDevice = (delegate* unmanaged<IntPtr, IntPtr>)NativeLibrary.GetExport(baseLib, "ggml_backend_get_device");
        var devReg = (delegate* unmanaged<IntPtr, IntPtr>)NativeLibrary.GetExport(baseLib, "ggml_backend_dev_backend_reg");
        var procAddr = (delegate* unmanaged<IntPtr, byte*, IntPtr>)NativeLibrary.GetExport(baseLib, "ggml_backend_reg_get_proc_address");
        var allocFromBuft = (delegate* unmanaged<IntPtr, IntPtr, IntPtr>)NativeLibrary.GetExport(baseLib, "ggml_backend_alloc_ctx_tensors_from_buft");
        var tensorSet = (delegate* unmanaged<IntPtr, void*, nuint, nuint, void>)NativeLibrary.GetExport(baseLib, "ggml_backend_tensor_set");
        var tensorGet = (delegate* unmanaged<IntPtr, void*, nuint, nuint, void>)NativeLibrary.GetExport(baseLib, "ggml_backend_tensor_get");
        var graphCompute = (delegate* unmanaged<IntPtr, IntPtr, int>)NativeLibrary.GetExport(baseLib, "ggml_backend_graph_compute");
        var bufferFree = (delegate* unmanaged<IntPtr, void>)NativeLibrary.GetExport(baseLib, "ggml_backend_buffer_free");
        var backendFree = (delegate* unmanaged<IntPtr, void>)NativeLibrary.GetExport(baseLib, "ggml_backend_free");
        var buftName = (delegate* unmanaged<IntPtr, byte*>)NativeLibrary.GetExport(baseLib, "ggml_backend_buft_name");
        var ggmlInit = (delegate* unmanaged<InitParams, IntPtr>)NativeLibrary.GetExport(baseLib, "ggml_init");
        var free = (delegate* unmanaged<IntPtr, void>)NativeLibrary.GetExport(baseLib, "ggml_free");
        var new2d = (delegate* unmanaged<IntPtr, int, long, long, IntPtr>)NativeLibrary.GetExport(baseLib, "ggml_new_tensor_2d");
        var mulMat = (delegate* unmanaged<IntPtr, IntPtr, IntPtr, IntPtr>)NativeLibrary.GetExport(baseLib, "ggml_mul_mat");
        var newGraph = (delegate* unmanaged<IntPtr, IntPtr>)NativeLibrary.GetExport(baseLib, "ggml_new_graph");
        var expand = (delegate* unmanaged<IntPtr, IntPtr, void>)NativeLibrary.GetExport(baseLib, "ggml_build_forward_expand");

        IntPtr backend = cpuInit();
        setThreads(backend, 1);
        IntPtr reg = devReg(getDevice(backend));
        IntPtr getExtra;
        fixed (byte* name = "ggml_backend_dev_get_extra_bufts\0"u8)
            getExtra = procAddr(reg, name);
        if (getExtra == IntPtr.Zero)
            return null;
        IntPtr* extras = ((delegate* unmanaged<IntPtr, IntPtr*>)getExtra)(getDevice(backend));
        if (extras == null || extras[0] == IntPtr.Zero)
            return null;
        bufferName = Marshal.PtrToStringUTF8((IntPtr)buftName(extras[0]));

        IntPtr wctx = ggmlInit(new InitParams { MemSize = 1 << 20, NoAlloc = 1 });
        IntPtr ctx = ggmlInit(new InitParams { MemSize = 16 << 20, NoAlloc = 1 });
        IntPtr wbuf = IntPtr.Zero, buf = IntPtr.Zero;
        try
        {
            IntPtr a = new2d(wctx, (int)type, cols, rows);
            wbuf = allocFromBuft(wctx, extras[0]);
            fixed (byte* pw = weights)
                tensorSet(a, pw, 0, (nuint)weights.Length);
            IntPtr b = new2d(ctx, (int)GgmlType.F32, cols, n);
            IntPtr c = mulMat(ctx, a, b);
            IntPtr gf = newGraph(ctx);
            expand(gf, c);
            buf = allocFromBuft(ctx, cpuBuft());
            fixed (float* px = x)
                tensorSet(b, px, 0, (nuint)(n * cols * 4));
            int status = graphCompute(backend, gf);
            if (status != 0)
                throw new InvalidOperationException($"graph compute failed: {status}");
            var y = new float[rows * n];
            fixed (float* py = y)
                tensorGet(c, py, 0, (nuint)(y.Length * 4));
            return y;
        }
        finally
        {
            if (buf != IntPtr.Zero) bufferFree(buf);
            if (wbuf != IntPtr.Zero) bufferFree(wbuf);
            free(ctx);
            free(wctx);
            backendFree(backend);
        }
    }

    /// <summary>ggml's vec_dot for <paramref name="weight"/> rows against an activation row in its vec_dot type.</summary>
    public static float VecDot(GgmlType weight, byte* w, byte* act, int n)
    {
        float s;
        Traits(weight)->VecDot(n, &s, 0, w, 0, act, 0, 1);
        return s;
    }
}
