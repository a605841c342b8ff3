using System.Text;
using SeekSharp.Tokenization;

namespace SeekSharp.Tests.Tokenization;

/// <summary>Token-for-token comparison with llama.cpp (through LLamaSharp) on the DeepSeek-V3 vocabulary.</summary>
public sealed class DeepSeekV3ConformanceTests(DeepSeekV3VocabFixture fixture) : IClassFixture<DeepSeekV3VocabFixture>
{
    [Theory]
    [InlineData("deepseek-v3")]
    [InlineData("deepseek-llm")]
    [InlineData("deepseek-coder")]
    [InlineData("llama-bpe")]
    [InlineData("gpt-2")]
    [InlineData("default")]
    [InlineData("qwen2")]
    public void EncodeMatchesLlamaCpp(string pre)
    {
        var (ours, reference) = fixture.Get(pre);
        Conformance.AssertSameTokens(ours, reference, TokenizerTestData.Texts, pre);
        Conformance.AssertSameTokens(ours, reference, TokenizerTestData.RandomTexts(pre == "deepseek-v3" ? 600 : 250, seed: pre.Length), pre);
    }

    [Fact]
    public void VocabularyIsReadAsLlamaCppReadsIt()
    {
        var (ours, reference) = fixture.Get("deepseek-v3");
        ConformanceChecks.AssertSamePiecesAndEog(ours, reference);
        Assert.Equal(0, ours.Vocabulary.BosId);
        Assert.Equal(1, ours.Vocabulary.EosId);
        Assert.True(ours.Vocabulary.AddBos);
        Assert.True(ours.IsEndOfGeneration(1));
    }

    [Theory]
    [InlineData("deepseek-v3")]
    [InlineData("llama-bpe")]
    public void DecodeMatchesLlamaCpp(string pre)
    {
        var (ours, reference) = fixture.Get(pre);
        ConformanceChecks.AssertSameDecode(ours, reference);
    }
}

/// <summary>Token-for-token comparison with llama.cpp (through LLamaSharp) on the Qwen3 vocabulary (DeepSeek-R1 distills use it).</summary>
public sealed class Qwen3ConformanceTests(Qwen3VocabFixture fixture) : IClassFixture<Qwen3VocabFixture>
{
    [Theory]
    [InlineData("qwen2")]
    [InlineData("deepseek-r1-qwen")]
    [InlineData("llama-bpe")]
    [InlineData("deepseek-v3")]
    public void EncodeMatchesLlamaCpp(string pre)
    {
        var (ours, reference) = fixture.Get(pre);
        Conformance.AssertSameTokens(ours, reference, TokenizerTestData.Texts, pre);
        Conformance.AssertSameTokens(ours, reference, TokenizerTestData.RandomTexts(pre == "qwen2" ? 600 : 250, seed: 7 + pre.Length), pre);
    }

    [Fact]
    public void VocabularyIsReadAsLlamaCppReadsIt()
    {
        var (ours, reference) = fixture.Get("qwen2");
        ConformanceChecks.AssertSamePiecesAndEog(ours, reference);
        Assert.Equal(151645, ours.Vocabulary.EosId); // <|im_end|>
        Assert.False(ours.Vocabulary.AddBos);
        Assert.Equal(TokenType.UserDefined, ours.Vocabulary.TokenTypes[ours.TokenId("<think>")]);
        Assert.Equal(TokenType.Control, ours.Vocabulary.TokenTypes[ours.TokenId("<|fim_pad|>")]);
    }

    [Theory]
    [InlineData("qwen2")]
    [InlineData("llama-bpe")]
    public void DecodeMatchesLlamaCpp(string pre)
    {
        var (ours, reference) = fixture.Get(pre);
        ConformanceChecks.AssertSameDecode(ours, reference);
    }
}

internal static class ConformanceChecks
{
    /// <summary>Every token's piece (special rendered or not) and end-of-generation flag agree with llama.cpp.</summary>
    public static void AssertSamePiecesAndEog(BpeTokenizer ours, LlamaCppVocab reference)
    {
        Assert.Equal(reference.TokenCount, ours.VocabSize);
        var failures = new StringBuilder();
        int failed = 0;
        for (int id = 0; id < ours.VocabSize; id++)
        {
            byte[] special = reference.TokenToPiece(id, special: true);
            byte[] plain = reference.TokenToPiece(id, special: false);
            bool ok = ours.TokenBytes(id).SequenceEqual(special)
                && ours.DecodeToBytes([id], renderSpecial: false).AsSpan().SequenceEqual(plain)
                && ours.IsEndOfGeneration(id) == reference.IsEog(id);
            if (!ok && ++failed <= 10)
                failures.Append($"\n  {id} {Conformance.Escape(ours.TokenText(id))} eog={ours.IsEndOfGeneration(id)}/{reference.IsEog(id)}");
        }
        Assert.True(failed == 0, $"{failed} tokens differ:{failures}");
    }

    /// <summary>Decoding what was encoded gives llama_detokenize's bytes, with and without rendering special tokens.</summary>
    public static void AssertSameDecode(BpeTokenizer ours, LlamaCppVocab reference)
    {
        var failures = new StringBuilder();
        int failed = 0;
        var sequences = TokenizerTestData.Texts.Concat(TokenizerTestData.RandomTexts(100, 3))
            .Select(t => reference.Tokenize(t, addSpecial: true, parseSpecial: true))
            .Append(Enumerable.Range(0, 3000).Select(i => i * 37 % ours.VocabSize).ToArray()); // arbitrary ids, split characters
        foreach (int[] ids in sequences)
        {
            foreach (bool render in (ReadOnlySpan<bool>)[true, false])
            {
                byte[] expected = reference.Detokenize(ids, removeSpecial: false, unparseSpecial: render);
                byte[] actual = ours.DecodeToBytes(ids, render);
                if (!expected.AsSpan().SequenceEqual(actual) && ++failed <= 10)
                    failures.Append($"\n  render={render} [{string.Join(' ', ids.Take(20))}]: {Conformance.Escape(Encoding.UTF8.GetString(expected))} vs {Conformance.Escape(Encoding.UTF8.GetString(actual))}");
                Assert.Equal(Encoding.UTF8.GetString(expected), ours.Decode(ids, render));
            }
        }
        Assert.True(failed == 0, $"{failed} decodings differ:{failures}");
    }
}
