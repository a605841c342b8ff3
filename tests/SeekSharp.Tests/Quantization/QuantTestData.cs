using SeekSharp.Numerics.Quantization;

namespace SeekSharp.Tests.Quantization;

/// <summary>Deterministic float rows that exercise the quantizers' ordinary and degenerate paths.</summary>
internal static class QuantTestData
{
    /// <summary>Scenario names accepted by <see cref="Generate"/>.</summary>
    public static readonly string[] Scenarios =
    [
        "gauss", "gauss_1e-3", "gauss_1e3", "gauss_tiny_1e-12", "gauss_1e-30", "gauss_subnormal_1e-39", "gauss_1e-44",
        "gauss_1e20", "gauss_huge_1e36", "uniform_pos", "uniform_neg", "zeros", "const_pos", "const_neg",
        "mixed_outliers", "sparse", "integers", "half_integers", "group_scales", "fp16_edges", "extreme_blocks",
        "near_zero_groups",
    ];

    public static float[] Generate(string scenario, int seed, int count)
    {
        // Stable seed per (scenario, seed): string.GetHashCode is randomized per process.
        var rng = new Random(seed * 7919 + Array.IndexOf(Scenarios, scenario) * 104729);
        float[] x = new float[count];
        switch (scenario)
        {
            case "gauss": Fill(x, rng, 1f); break;
            case "gauss_1e-3": Fill(x, rng, 1e-3f); break;
            case "gauss_1e3": Fill(x, rng, 1e3f); break;
            case "gauss_tiny_1e-12": Fill(x, rng, 1e-12f); break;
            case "gauss_1e-30": Fill(x, rng, 1e-30f); break;
            case "gauss_subnormal_1e-39": Fill(x, rng, 1e-39f); break;
            case "gauss_1e-44": Fill(x, rng, 1e-44f); break;
            case "gauss_1e20": Fill(x, rng, 1e20f); break;
            case "gauss_huge_1e36": Fill(x, rng, 1e36f); break;
            case "uniform_pos":
                for (int i = 0; i < count; i++) x[i] = rng.NextSingle();
                break;
            case "uniform_neg":
                for (int i = 0; i < count; i++) x[i] = -rng.NextSingle() * 3;
                break;
            case "zeros": break;
            case "const_pos": Array.Fill(x, 0.3712f); break;
            case "const_neg": Array.Fill(x, -17.25f); break;
            case "mixed_outliers":
                Fill(x, rng, 0.05f);
                for (int i = 0; i < count; i += 1 + rng.Next(40)) x[i] = (rng.Next(2) == 0 ? -1 : 1) * (5f + 50f * rng.NextSingle());
                break;
            case "sparse":
                for (int i = 0; i < count; i++) x[i] = rng.Next(10) == 0 ? Gauss(rng) : 0f;
                break;
            case "integers":
                for (int i = 0; i < count; i++) x[i] = rng.Next(-16, 16);
                break;
            case "half_integers":
                // Exact rounding ties for the 1/d scalings.
                for (int i = 0; i < count; i++) x[i] = rng.Next(-16, 16) + 0.5f;
                break;
            case "group_scales":
                // Every 16 values get their own magnitude across 24 decades, so sub-blocks differ wildly.
                for (int i = 0; i < count; i += 16)
                {
                    float scale = MathF.Pow(10f, -18f + 24f * rng.NextSingle());
                    for (int j = i; j < Math.Min(count, i + 16); j++) x[j] = Gauss(rng) * scale;
                }
                break;
            case "fp16_edges":
                // Scales that land on or beyond the edges of binary16 (65504, subnormal halves).
                float[] mags = [65504f, 65520f, 1e5f, 8.3e6f, 6.1e-5f, 6e-8f, 2.9e-8f, 1e-7f];
                for (int i = 0; i < count; i += 32)
                {
                    float m = mags[rng.Next(mags.Length)];
                    for (int j = i; j < Math.Min(count, i + 32); j++) x[j] = Gauss(rng) * m;
                }
                break;
            case "extreme_blocks":
                // Finite but overflowing intermediate sums/differences, and lone extreme values among tiny ones.
                for (int i = 0; i < count; i += 32)
                {
                    int kind = rng.Next(5);
                    for (int j = i; j < Math.Min(count, i + 32); j++)
                    {
                        x[j] = kind switch
                        {
                            0 => (j % 2 == 0 ? 1 : -1) * 3.0e38f,
                            1 => j == i + 5 ? 3.3e38f : Gauss(rng) * 1e-30f,
                            2 => j == i + 9 ? -float.MaxValue : Gauss(rng),
                            3 => float.Epsilon * rng.Next(-3, 4),
                            _ => (rng.Next(2) == 0 ? -1 : 1) * float.MaxValue * rng.NextSingle(),
                        };
                    }
                }
                break;
            case "near_zero_groups":
                // Groups straddling GROUP_MAX_EPS (1e-15) next to ordinary ones.
                for (int i = 0; i < count; i += 16)
                {
                    float scale = rng.Next(3) switch { 0 => 1e-15f, 1 => 0.9e-15f, _ => 1f };
                    for (int j = i; j < Math.Min(count, i + 16); j++) x[j] = Gauss(rng) * scale;
                }
                break;
            default:
                throw new ArgumentException(scenario);
        }
        return x;
    }

    private static void Fill(float[] x, Random rng, float scale)
    {
        for (int i = 0; i < x.Length; i++)
        {
            float v = Gauss(rng) * scale;
            x[i] = float.IsFinite(v) ? v : MathF.CopySign(float.MaxValue, v);
        }
    }

    private static float Gauss(Random rng)
    {
        double u1 = 1.0 - rng.NextDouble(), u2 = rng.NextDouble();
        return (float)(Math.Sqrt(-2.0 * Math.Log(u1)) * Math.Cos(2 * Math.PI * u2));
    }

    /// <summary>Every vector width the hardware supports, scalar first.</summary>
    public static IEnumerable<QuantSimdLevel> Levels()
    {
        foreach (QuantSimdLevel level in new[] { QuantSimdLevel.Scalar, QuantSimdLevel.Vector128, QuantSimdLevel.Vector256, QuantSimdLevel.Vector512 })
        {
            if (level <= QuantSimd.Detected)
                yield return level;
        }
    }
}
