using System.Runtime.Intrinsics;

namespace SeekSharp.Numerics.Quantization;

/// <summary>Widest vector path the quantization kernels may use.</summary>
internal enum QuantSimdLevel
{
    Scalar = 0,
    Vector128 = 128,
    Vector256 = 256,
    Vector512 = 512,
}

/// <summary>
/// Chooses the vector width for the (de)quantization kernels. Every width produces bit-identical results; the
/// switch exists so tests can drive each path in-process (the DOTNET_EnableAVX512F / DOTNET_EnableAVX2 environment
/// variables are honoured automatically because they turn off the corresponding IsHardwareAccelerated flags).
/// </summary>
internal static class QuantSimd
{
    /// <summary>The widest path the hardware (and runtime configuration) accelerates.</summary>
    public static readonly QuantSimdLevel Detected =
        Vector512.IsHardwareAccelerated ? QuantSimdLevel.Vector512 :
        Vector256.IsHardwareAccelerated ? QuantSimdLevel.Vector256 :
        Vector128.IsHardwareAccelerated ? QuantSimdLevel.Vector128 :
        QuantSimdLevel.Scalar;

    /// <summary>Process-wide cap on the width used by the public entry points (null: use <see cref="Detected"/>).</summary>
    public static QuantSimdLevel? Override { get; set; }

    /// <summary>The level public entry points use now.</summary>
    public static QuantSimdLevel Current => Clamp(Override ?? Detected);

    /// <summary>Never go wider than the hardware accelerates, whatever was requested.</summary>
    public static QuantSimdLevel Clamp(QuantSimdLevel requested) => (QuantSimdLevel)Math.Min((int)requested, (int)Detected);
}
