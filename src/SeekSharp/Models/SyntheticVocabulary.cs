using System.Text;
using System.Text.RegularExpressions;
using SeekSharp.Tokenization;

namespace SeekSharp.Models;

/// <summary>
/// A small real byte-level BPE vocabulary, trained at run time on a built-in English sample, for test models that
/// must not depend on downloaded tokenizers: all 256 byte tokens, the learned merges, and DeepSeek's special tokens.
/// </summary>
public static class SyntheticVocabulary
{
    public const string Bos = "<｜begin▁of▁sentence｜>";
    public const string Eos = "<｜end▁of▁sentence｜>";

    private const string Sample =
        "The quick brown fox jumps over the lazy dog. A language model reads text as tokens and predicts the next one. " +
        "DeepSeek models think before they answer: they write their reasoning between think tags, then the answer. " +
        "In 2025 the team released R1, and the world noticed that a model could match the giants at a fraction of the cost. " +
        "Numbers like 12345 and 3.14159 appear in text, as do dates such as 2024-01-15 and times like 10:30. " +
        "Hello, world! How are you today? I am fine, thank you. What is the capital of France? The capital of France is Paris. " +
        "public static void Main(string[] args) { Console.WriteLine(\"Hello\"); } def main(): print('hello') return 0 " +
        "for (int i = 0; i < n; i++) { sum += x[i] * y[i]; } if (x > 0) then y else z; while true do something end " +
        "Le renard brun rapide saute par-dessus le chien paresseux. C'est la vie, n'est-ce pas? Très bien, merci beaucoup. " +
        "Once upon a time there was a little girl who lived in a village near the forest. She liked to walk and to read. " +
        "The weather is nice today, so we will go to the park and have a picnic with our friends and family members. " +
        "Machine learning, attention, transformer, embedding, gradient, optimizer, training, inference, distillation. " +
        "They're here, it's done, we've seen, I'll go, you'd know, she's right, don't stop, can't wait, won't happen.";

    /// <summary>Builds a vocabulary of about <paramref name="size"/> tokens (at least 256 bytes + 4 specials).</summary>
    public static Vocabulary Create(int size = 512, string preTokenizer = "default")
    {
        var words = new Dictionary<string, int>();
        foreach (Match m in Regex.Matches(Sample, @" ?\p{L}+| ?\p{N}| ?[^\s\p{L}\p{N}]+|\s+"))
        {
            string word = ByteLevel.Encode(Encoding.UTF8.GetBytes(m.Value));
            words[word] = words.GetValueOrDefault(word) + 1;
        }
        var tokens = new List<string>();
        for (int b = 0; b < 256; b++) tokens.Add(ByteLevel.ByteToChar((byte)b).ToString());
        var known = new HashSet<string>(tokens);
        var merges = new List<string>();
        var split = words.ToDictionary(w => w.Key, w => w.Key.Select(ch => ch.ToString()).ToList());
        int specials = 4;
        while (tokens.Count < size - specials)
        {
            var pairs = new Dictionary<(string, string), int>();
            foreach (var (word, parts) in split)
                for (int i = 0; i + 1 < parts.Count; i++)
                    pairs[(parts[i], parts[i + 1])] = pairs.GetValueOrDefault((parts[i], parts[i + 1])) + words[word];
            if (pairs.Count == 0) break;
            // most frequent pair; ties broken by text so the result is deterministic
            var best = pairs.OrderByDescending(p => p.Value).ThenBy(p => p.Key.Item1, StringComparer.Ordinal)
                .ThenBy(p => p.Key.Item2, StringComparer.Ordinal).First().Key;
            string merged = best.Item1 + best.Item2;
            merges.Add(best.Item1 + " " + best.Item2);
            if (known.Add(merged)) tokens.Add(merged);
            foreach (var parts in split.Values)
            {
                for (int i = 0; i + 1 < parts.Count; i++)
                {
                    if (parts[i] == best.Item1 && parts[i + 1] == best.Item2)
                    {
                        parts[i] = merged;
                        parts.RemoveAt(i + 1);
                    }
                }
            }
        }
        var types = Enumerable.Repeat(TokenType.Normal, tokens.Count).ToList();
        int bos = tokens.Count;
        foreach (string special in new[] { Bos, Eos, "<|im_start|>", "<|im_end|>" })
        {
            tokens.Add(special);
            types.Add(TokenType.Control);
        }
        return new Vocabulary
        {
            Tokens = tokens.ToArray(),
            TokenTypes = types.ToArray(),
            Merges = merges.ToArray(),
            PreTokenizer = preTokenizer,
            BosId = bos,
            EosId = bos + 1,
            AddBos = true,
        };
    }

    /// <summary>Appends "[PAD{id}]" unused tokens (as Hugging Face converters fill id gaps) up to <paramref name="size"/>.</summary>
    public static Vocabulary PadTo(Vocabulary vocab, int size)
    {
        if (size <= vocab.Tokens.Length) return vocab;
        var tokens = vocab.Tokens.ToList();
        var types = vocab.TokenTypes.ToList();
        for (int id = tokens.Count; id < size; id++)
        {
            tokens.Add($"[PAD{id}]");
            types.Add(TokenType.Unused);
        }
        return new Vocabulary
        {
            Tokens = tokens.ToArray(),
            TokenTypes = types.ToArray(),
            Merges = vocab.Merges,
            PreTokenizer = vocab.PreTokenizer,
            BosId = vocab.BosId,
            EosId = vocab.EosId,
            EotId = vocab.EotId,
            PadId = vocab.PadId,
            UnknownId = vocab.UnknownId,
            AddBos = vocab.AddBos,
            AddEos = vocab.AddEos,
        };
    }
}
