using SeekSharp.Numerics.Threading;

namespace SeekSharp.Numerics;

public static unsafe partial class MatMul
{
    private const byte LayoutNone = 0, LayoutPairs = 1, LayoutGroups = 2;

    /// <summary>
    /// The rearranged copy of the converted activations a prefill kernel reads (token pairs for the paired / tiled
    /// Q8_0-class kernels, groups of eight tokens for the grouped K-quant kernels), stored after the converted rows.
    /// Decided once per call, because the switches behind it are volatile and the buffer size depends on them; one
    /// definition for <see cref="Run{TKernel}"/> and <see cref="MultiplyBatched"/>.
    /// </summary>
    private struct PrefillLayout
    {
        public byte Kind;
        public bool Tiled, Q6, Whole, FastTail;
        public int Nb;            // blocks per row in the layout's block size (32 or 256 values)
        public int N;             // tokens
        public long Items;        // token pairs or token groups
        public long PairStride;   // bytes per token pair (pairs only)
        public long Bytes;        // the whole layout, tiled scale table included

        public static PrefillLayout For<TKernel>(int cols, int n, int width) where TKernel : struct, IDotKernel
        {
            var p = new PrefillLayout { Kind = LayoutNone };
            if (TKernel.DotType == Gguf.GgmlType.F32)
                return p;
            if (n >= 2 && PairedTokenKernels.Applies<TKernel>(width))
            {
                p.Kind = LayoutPairs;
                p.Tiled = PrefillTileKernels.Applies<TKernel>(width);
                p.Nb = cols / 32;
                p.N = n;
                // the tiled kernel can take an odd last token as a pair with a copy of itself
                p.Whole = p.Tiled && KernelSettings.WholeGroupTiles;
                p.Items = p.Whole ? (n + 1) / 2 : n / 2;
                p.PairStride = (long)p.Nb * (p.Tiled ? PrefillTileKernels.TileBlockBytes : PairedTokenKernels.PairBlockBytes);
                // the tiled kernel keeps the activation scales in a separate table after the pairs (plus slack for the
                // full-register scale loads of a pair count that is not a power of two)
                p.Bytes = p.Items * p.PairStride + (p.Tiled ? p.Items * 2L * p.Nb * sizeof(float) + 64 : 0);
            }
            else if (KQuantGroups.Applies<TKernel>(width, n))
            {
                p.Kind = LayoutGroups;
                p.Q6 = typeof(TKernel) == typeof(Q6_KKernel);
                p.Nb = cols / 256;
                p.N = n;
                p.Items = KQuantGroups.GroupCount(n, KernelSettings.PaddedKQuantGroups, KQuantGroups.PadFrom<TKernel>(width));
                p.FastTail = KQuantGroups.FastTail<TKernel>(width);
                p.Bytes = p.Items * (long)p.Nb * KQuantGroups.GroupBlockBytes;
            }
            return p;
        }

        /// <summary>Where the parts of a layout stored at <paramref name="layout"/> start.</summary>
        public readonly void Bind(byte* layout, out byte* pairs, out float* scales, out int scaleStride, out byte* groups, out long groupStride)
        {
            pairs = null; scales = null; scaleStride = 0; groups = null; groupStride = 0;
            if (Kind == LayoutPairs)
            {
                pairs = layout;
                scales = (float*)(layout + Items * PairStride);
                scaleStride = (int)(2 * Items);
            }
            else if (Kind == LayoutGroups)
            {
                groups = layout;
                groupStride = (long)Nb * KQuantGroups.GroupBlockBytes;
            }
        }

        /// <summary>Builds items [<paramref name="first"/>, <paramref name="end"/>) from the converted rows at <paramref name="a"/>.</summary>
        public readonly void Build<TKernel>(byte* a, long actRow, byte* layout, int first, int end) where TKernel : struct, IDotKernel
        {
            Bind(layout, out byte* pairs, out float* scales, out int scaleStride, out byte* groups, out _);
            if (Kind == LayoutPairs)
            {
                if (Tiled)
                    PrefillTileKernels.BuildPairs<TKernel>(a, actRow, N, Nb, pairs, scales, scaleStride, first, end);
                else
                    PairedTokenKernels.BuildPairs(a, actRow, Nb, pairs, first, end);
            }
            else if (Kind == LayoutGroups)
                KQuantGroups.BuildGroups(Q6, a, actRow, N, Nb, groups, first, end);
        }

        /// <summary>Points a body's layout fields at the layout stored at <paramref name="layout"/>.</summary>
        public readonly void Attach<TKernel>(ref MatMulBody<TKernel> body, byte* layout) where TKernel : struct, IDotKernel
        {
            if (Kind == LayoutNone)
                return;
            Bind(layout, out body.P, out body.Scales, out body.ScaleStride, out body.G, out body.GroupStride);
            body.PairStride = PairStride;
            body.Nb = Nb;
            body.Tiled = Tiled;
            body.Whole = Whole;
            body.Groups = Kind == LayoutGroups ? (int)Items : 0;
            body.FastTail = FastTail;
        }
    }

    /// <summary>Builds a <see cref="PrefillLayout"/>'s items in parallel.</summary>
    private struct LayoutBody<TKernel> : IParallelBody where TKernel : struct, IDotKernel
    {
        public PrefillLayout Layout;
        public byte* A, L;
        public long ActRow;

        public readonly void Execute(int start, int end) => Layout.Build<TKernel>(A, ActRow, L, start, end);
    }
}
