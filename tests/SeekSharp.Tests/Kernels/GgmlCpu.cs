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
    public static float[]? MulMatRepacked(GgmlType type, byte[] weights, int rows, int cols, float[] x, int n, out string? bufferName) =>
        RunRepacked(type, weights, [cols, rows], rows * n, out bufferName, (ctx, a) =>
        {
            IntPtr b = NewTensor(ctx, GgmlType.F32, [cols, n]);
            return (Call("ggml_mul_mat", ctx, a, b), [(b, AsBytes(x))]);
        });

    /// <summary>
    /// ggml_mul_mat_id(as = [cols, rows, experts] in CPU_REPACK, b = [cols, 1, n], ids = [used, n]): llama.cpp's MoE
    /// product on repacked experts. Same conditions as <see cref="MulMatRepacked"/>.
    /// </summary>
    public static float[]? MulMatIdRepacked(GgmlType type, byte[] weights, int rows, int cols, int experts, float[] x, int[] ids, int used, int n) =>
        RunRepacked(type, weights, [cols, rows, experts], rows * used * n, out _, (ctx, a) =>
        {
            IntPtr b = NewTensor(ctx, GgmlType.F32, [cols, 1, n]);
            IntPtr idt = NewTensor(ctx, (GgmlType)26 /* GGML_TYPE_I32 */, [used, n]);
            return (Call("ggml_mul_mat_id", ctx, a, b, idt), [(b, AsBytes(x)), (idt, AsBytes(ids))]);
        });

    /// <summary>
    /// One op on the CPU backend (one thread) with a weight tensor of <paramref name="shape"/> placed in the first extra
    /// buffer type: <paramref name="build"/> makes the op from the graph context and the weight tensor and names the
    /// inputs to upload; returns the op's <paramref name="outputs"/> floats, or null when there is no extra buffer type.
    /// </summary>
    private static float[]? RunRepacked(GgmlType type, byte[] weights, long[] shape, int outputs, out string? bufferName,
        Func<IntPtr, IntPtr, (IntPtr Output, (IntPtr Tensor, byte[] Data)[] Inputs)> build)
    {
        _ = s_lib.Value;
        bufferName = null;
        var tensorSet = (delegate* unmanaged<IntPtr, void*, nuint, nuint, void>)NativeLibrary.GetExport(BaseLibrary, "ggml_backend_tensor_set");
        var tensorGet = (delegate* unmanaged<IntPtr, void*, nuint, nuint, void>)NativeLibrary.GetExport(BaseLibrary, "ggml_backend_tensor_get");
        var bufferFree = (delegate* unmanaged<IntPtr, void>)NativeLibrary.GetExport(BaseLibrary, "ggml_backend_buffer_free");
        var backendFree = (delegate* unmanaged<IntPtr, void>)NativeLibrary.GetExport(BaseLibrary, "ggml_backend_free");
        var ggmlInit = (delegate* unmanaged<InitParams, IntPtr>)NativeLibrary.GetExport(BaseLibrary, "ggml_init");
        var free = (delegate* unmanaged<IntPtr, void>)NativeLibrary.GetExport(BaseLibrary, "ggml_free");

        IntPtr backend = ((delegate* unmanaged<IntPtr>)NativeLibrary.GetExport(s_lib.Value, "ggml_backend_cpu_init"))();
        ((delegate* unmanaged<IntPtr, int, void>)NativeLibrary.GetExport(s_lib.Value, "ggml_backend_cpu_set_n_threads"))(backend, 1);
        IntPtr wctx = IntPtr.Zero, ctx = IntPtr.Zero, wbuf = IntPtr.Zero, buf = IntPtr.Zero;
        try
        {
            IntPtr reg = Call("ggml_backend_dev_backend_reg", Call("ggml_backend_get_device", backend));
            IntPtr getExtra;
            fixed (byte* name = "ggml_backend_dev_get_extra_bufts\0"u8)
                getExtra = ((delegate* unmanaged<IntPtr, byte*, IntPtr>)NativeLibrary.GetExport(BaseLibrary, "ggml_backend_reg_get_proc_address"))(reg, name);
            IntPtr* extras = getExtra == IntPtr.Zero ? null : ((delegate* unmanaged<IntPtr, IntPtr*>)getExtra)(Call("ggml_backend_get_device", backend));
            if (extras == null || extras[0] == IntPtr.Zero)
                return null;
            bufferName = Marshal.PtrToStringUTF8((IntPtr)((delegate* unmanaged<IntPtr, byte*>)NativeLibrary.GetExport(BaseLibrary, "ggml_backend_buft_name"))(extras[0]));

            wctx = ggmlInit(new InitParams { MemSize = 1 << 20, NoAlloc = 1 });
            ctx = ggmlInit(new InitParams { MemSize = 16 << 20, NoAlloc = 1 });
            IntPtr a = NewTensor(wctx, type, shape);
            wbuf = Call("ggml_backend_alloc_ctx_tensors_from_buft", wctx, extras[0]);
            fixed (byte* pw = weights)
                tensorSet(a, pw, 0, (nuint)weights.Length);
            var (c, inputs) = build(ctx, a);
            IntPtr gf = Call("ggml_new_graph", ctx);
            ((delegate* unmanaged<IntPtr, IntPtr, void>)NativeLibrary.GetExport(BaseLibrary, "ggml_build_forward_expand"))(gf, c);
            buf = Call("ggml_backend_alloc_ctx_tensors_from_buft", ctx, ((delegate* unmanaged<IntPtr>)NativeLibrary.GetExport(s_lib.Value, "ggml_backend_cpu_buffer_type"))());
            foreach (var (tensor, data) in inputs)
                fixed (byte* pd = data)
                    tensorSet(tensor, pd, 0, (nuint)data.Length);
            int status = ((delegate* unmanaged<IntPtr, IntPtr, int>)NativeLibrary.GetExport(BaseLibrary, "ggml_backend_graph_compute"))(backend, gf);
            if (status != 0)
                throw new InvalidOperationException($"graph compute failed: {status}");
            var y = new float[outputs];
            fixed (float* py = y)
                tensorGet(c, py, 0, (nuint)(y.Length * 4));
            return y;
        }
        finally
        {
            if (buf != IntPtr.Zero) bufferFree(buf);
            if (wbuf != IntPtr.Zero) bufferFree(wbuf);
            if (ctx != IntPtr.Zero) free(ctx);
            if (wctx != IntPtr.Zero) free(wctx);
            backendFree(backend);
        }
    }

    /// <summary>ggml_new_tensor(ctx, type, shape.Length, shape).</summary>
    private static IntPtr NewTensor(IntPtr ctx, GgmlType type, long[] shape)
    {
        fixed (long* ne = shape)
            return ((delegate* unmanaged<IntPtr, int, int, long*, IntPtr>)NativeLibrary.GetExport(BaseLibrary, "ggml_new_tensor"))(ctx, (int)type, shape.Length, ne);
    }

    // ggml-base entry points that take and return pointers (lambdas cannot hold function pointers, so they call these).
    private static IntPtr Call(string name, IntPtr a) =>
        ((delegate* unmanaged<IntPtr, IntPtr>)NativeLibrary.GetExport(BaseLibrary, name))(a);

    private static IntPtr Call(string name, IntPtr a, IntPtr b) =>
        ((delegate* unmanaged<IntPtr, IntPtr, IntPtr>)NativeLibrary.GetExport(BaseLibrary, name))(a, b);

    private static IntPtr Call(string name, IntPtr a, IntPtr b, IntPtr c) =>
        ((delegate* unmanaged<IntPtr, IntPtr, IntPtr, IntPtr>)NativeLibrary.GetExport(BaseLibrary, name))(a, b, c);

    private static IntPtr Call(string name, IntPtr a, IntPtr b, IntPtr c, IntPtr d) =>
        ((delegate* unmanaged<IntPtr, IntPtr, IntPtr, IntPtr, IntPtr>)NativeLibrary.GetExport(BaseLibrary, name))(a, b, c, d);

    private static byte[] AsBytes<T>(T[] values) where T : unmanaged => MemoryMarshal.AsBytes(values.AsSpan()).ToArray();
    /// <summary>ggml's vec_dot for <paramref name="weight"/> rows against an activation row in its vec_dot type.</summary>
    public static float VecDot(GgmlType weight, byte* w, byte* act, int n)
    {
        float s;
        Traits(weight)->VecDot(n, &s, 0, w, 0, act, 0, 1);
        return s;
    }
}
