using System.Collections.Concurrent;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics.X86;

namespace SeekSharp.Tests;

/// <summary>
/// ggml's libraries from LLamaSharp.Backend.Cpu, loaded by full path from the test output folder for tests that call
/// ggml directly (quantizers, kernels). Each build variant is loaded once, with ggml_cpu_init run for it.
/// </summary>
internal static unsafe class GgmlNative
{
    private static readonly ConcurrentDictionary<string, Lazy<(nint Base, nint Cpu)>> s_loaded = new();

    public static string Directory(string variant) =>
        Path.Combine(AppContext.BaseDirectory, "runtimes", "linux-x64", "native", variant);

    /// <summary>The build llama.cpp itself would pick on this CPU.</summary>
    public static string BestVariant => Avx512F.IsSupported ? "avx512" : Avx2.IsSupported ? "avx2" : Avx.IsSupported ? "avx" : "noavx";

    /// <summary>Handles of libggml-base and libggml-cpu of a variant ("avx512", "avx2", ...).</summary>
    public static (nint Base, nint Cpu) Load(string variant) =>
        s_loaded.GetOrAdd(variant, v => new Lazy<(nint, nint)>(() =>
        {
            // libggml-cpu needs libggml-base; loading it first by full path satisfies the dependency by soname.
            nint baseLib = NativeLibrary.Load(Path.Combine(Directory(v), "libggml-base.so"));
            nint cpu = NativeLibrary.Load(Path.Combine(Directory(v), "libggml-cpu.so"));
            // ggml_cpu_init fills the fp16 tables the CPU kernels read.
            ((delegate* unmanaged<void>)NativeLibrary.GetExport(cpu, "ggml_cpu_init"))();
            return (baseLib, cpu);
        })).Value;
}
