using System.Globalization;
using System.Text;

namespace SeekSharp.Tokenization;

/// <summary>
/// Unicode normalization (NFC, NFD, NFKC, NFKD) in managed code, from the generated <see cref="HfUnicodeData"/>.
/// string.Normalize cannot be used: with InvariantGlobalization (which this repository sets, and apps may set)
/// it leaves non-ASCII text unchanged.
/// </summary>
internal static class HfNormalization
{
    private static readonly byte[] s_ccc = Expand(HfUnicodeData.CombiningClassRuns);
    private static readonly Dictionary<int, (int Offset, int Length)> s_canonical = new(), s_compat = new();
    private static readonly Dictionary<long, int> s_compose = new();
    private static readonly HashSet<int> s_second = new();   // code points that combine with a preceding starter

    private const int SBase = 0xAC00, LBase = 0x1100, VBase = 0x1161, TBase = 0x11A7;
    private const int LCount = 19, VCount = 21, TCount = 28, NCount = VCount * TCount, SCount = LCount * NCount;

    static HfNormalization()
    {
        ReadOnlySpan<int> index = HfUnicodeData.DecompositionIndex;
        for (int i = 0; i < index.Length; i += 3)
        {
            bool compat = (index[i + 1] >> 30) != 0;
            (compat ? s_compat : s_canonical)[index[i]] = (index[i + 1] & 0x3FFFFFFF, index[i + 2]);
        }
        ReadOnlySpan<int> comps = HfUnicodeData.Compositions;
        for (int i = 0; i < comps.Length; i += 3)
        {
            s_compose[(long)comps[i] << 32 | (uint)comps[i + 1]] = comps[i + 2];
            s_second.Add(comps[i + 1]);
        }
        for (int cp = VBase; cp < VBase + VCount; cp++)
            s_second.Add(cp);
        for (int cp = TBase + 1; cp < TBase + TCount; cp++)
            s_second.Add(cp);
    }

    // NFC quick check (conservative): no character that could decompose, reorder or compose, so the text is NFC as is.
    // Most non-Latin text (CJK, kana, Cyrillic without marks...) passes without allocating.
    private static bool IsSurelyNfc(string text)
    {
        for (int i = 0; i < text.Length; i++)
        {
            int cp = text[i];
            if (cp < 0x300)
                continue;
            if (char.IsHighSurrogate((char)cp) && i + 1 < text.Length)
                cp = char.ConvertToUtf32((char)cp, text[++i]);
            if (s_ccc[cp] != 0 || s_canonical.ContainsKey(cp) || s_second.Contains(cp))
                return false;
        }
        return true;
    }

    internal static byte[] Expand(ReadOnlySpan<byte> runs)
    {
        var table = new byte[0x110000];
        for (int i = 0; i < runs.Length; i += 4)
        {
            int start = runs[i] | runs[i + 1] << 8 | runs[i + 2] << 16;
            int end = i + 4 < runs.Length ? runs[i + 4] | runs[i + 5] << 8 | runs[i + 6] << 16 : table.Length;
            table.AsSpan(start, end - start).Fill(runs[i + 3]);
        }
        return table;
    }

    public static int CombiningClass(int cp) => (uint)cp < 0x110000 ? s_ccc[cp] : 0;

    /// <summary>Normalizes <paramref name="text"/> (valid UTF-16); returns it unchanged when it already is.</summary>
    public static string Normalize(string text, NormalizationForm form)
    {
        // Text entirely below a form's limit is already normalized: below U+0300 there are no combining marks, so NFC
        // leaves it alone; NFD decomposes from U+00C0 (À) on; the compatibility forms map from U+00A0 (NBSP) on.
        bool compat = form is NormalizationForm.FormKC or NormalizationForm.FormKD;
        int limit = form switch { NormalizationForm.FormC => 0x300, NormalizationForm.FormD => 0xC0, _ => 0xA0 };
        if (!text.AsSpan().ContainsAnyExceptInRange('\0', (char)(limit - 1)))
            return text;
        if (form == NormalizationForm.FormC && IsSurelyNfc(text))
            return text;

        var cps = new List<int>(text.Length + 8);
        foreach (Rune r in text.EnumerateRunes())
            Decompose(r.Value, compat, cps);
        // canonical ordering: stable sort of each run of non-starters by combining class
        for (int i = 1; i < cps.Count; i++)
        {
            int c = CombiningClass(cps[i]);
            if (c == 0)
                continue;
            int j = i;
            while (j > 0 && CombiningClass(cps[j - 1]) > c)
            {
                (cps[j - 1], cps[j]) = (cps[j], cps[j - 1]);
                j--;
            }
        }
        if (form is NormalizationForm.FormC or NormalizationForm.FormKC)
            Compose(cps);

        var sb = new StringBuilder(cps.Count + 8);
        foreach (int cp in cps)
            sb.Append(char.ConvertFromUtf32(cp));
        string result = sb.ToString();
        return result == text ? text : result;
    }

    private static void Decompose(int cp, bool compat, List<int> output)
    {
        if (cp is >= SBase and < SBase + SCount)
        {
            int s = cp - SBase;
            output.Add(LBase + s / NCount);
            output.Add(VBase + s % NCount / TCount);
            if (s % TCount != 0)
                output.Add(TBase + s % TCount);
            return;
        }
        if ((compat && s_compat.TryGetValue(cp, out var d)) || s_canonical.TryGetValue(cp, out d))
        {
            output.AddRange(HfUnicodeData.DecompositionPool.Slice(d.Offset, d.Length));
            return;
        }
        output.Add(cp);
    }

    // The canonical composition algorithm of UAX #15 (a character composes with the last starter unless blocked).
    private static void Compose(List<int> cps)
    {
        if (cps.Count == 0)
            return;
        int starterPos = 0;
        int starter = cps[0];
        int lastClass = CombiningClass(starter) == 0 ? 0 : 256;
        int write = 1;
        for (int read = 1; read < cps.Count; read++)
        {
            int ch = cps[read];
            int cls = CombiningClass(ch);
            int composite = ComposePair(starter, ch);
            if (composite >= 0 && (lastClass < cls || lastClass == 0))
            {
                cps[starterPos] = composite;
                starter = composite;
                continue;
            }
            if (cls == 0)
            {
                starterPos = write;
                starter = ch;
            }
            lastClass = cls;
            cps[write++] = ch;
        }
        cps.RemoveRange(write, cps.Count - write);
    }

    private static int ComposePair(int a, int b)
    {
        if (a is >= LBase and < LBase + LCount && b is >= VBase and < VBase + VCount)
            return SBase + ((a - LBase) * VCount + (b - VBase)) * TCount;
        if (a is >= SBase and < SBase + SCount && (a - SBase) % TCount == 0 && b is > TBase and < TBase + TCount)
            return a + (b - TBase);
        return s_compose.TryGetValue((long)a << 32 | (uint)b, out int c) ? c : -1;
    }
}
