using SeekSharp.Gguf;
using SeekSharp.Numerics;

namespace SeekSharp.Tests.Kernels;

/// <summary>Tests that change the process-wide kernel switches run one at a time in this collection.</summary>
[CollectionDefinition("Kernels", DisableParallelization = true)]
public sealed class KernelCollection;

/// <summary>Forces a vector width for the duration of a using block. -128 means the portable (non-SSSE3) 128-bit path.</summary>
internal sealed class ForcedWidth : IDisposable
{
    private readonly int _oldMax = KernelSettings.MaxVectorWidth;
    private readonly bool _oldX86 = KernelSettings.UseX86Helpers128;

    public ForcedWidth(int width)
    {
        KernelSettings.MaxVectorWidth = Math.Abs(width);
        KernelSettings.UseX86Helpers128 = width >= 0;
    }

    public void Dispose()
    {
        KernelSettings.MaxVectorWidth = _oldMax;
        KernelSettings.UseX86Helpers128 = _oldX86;
    }
}

internal static class Cases
{
    /// <summary>Widths to test: what the hardware has, down to scalar, plus the portable 128-bit code.</summary>
    public static int[] Widths => [512, 256, 128, -128, 0];

    public static int ColsFor(GgmlType t) => t switch
    {
        // Not a multiple of 64 so the float kernels' leftover loops run too.
        GgmlType.F32 or GgmlType.F16 or GgmlType.BF16 => 328,
        _ => 512,
    };

    public static IEnumerable<object[]> TypesByWidth()
    {
        foreach (GgmlType t in ReferenceQuant.WeightTypes)
            foreach (int w in Widths)
                yield return [t, w];
    }

    public static IEnumerable<object[]> Types()
    {
        foreach (GgmlType t in ReferenceQuant.WeightTypes)
            yield return [t];
    }
}
