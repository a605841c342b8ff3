using SeekSharp.Chat;

namespace SeekSharp.Tests.Chat;

public class ReasoningParserTests
{
    private static (string Reasoning, string Content) Feed(ReasoningParser p, IEnumerable<string> deltas)
    {
        string r = "", c = "";
        foreach (var d in deltas)
        {
            var (dr, dc) = p.Push(d);
            r += dr;
            c += dc;
        }
        var (fr, fc) = p.Flush();
        Assert.Equal(r + fr, p.Reasoning);
        Assert.Equal(c + fc, p.Content);
        return (r + fr, c + fc);
    }

    /// <summary>Every way of cutting the text into two or three deltas, plus one character at a time.</summary>
    private static IEnumerable<string[]> Splits(string text)
    {
        yield return new[] { text };
        yield return text.Select(ch => ch.ToString()).ToArray();
        for (int i = 0; i <= text.Length; i++)
        {
            yield return new[] { text[..i], text[i..] };
            for (int j = i; j <= text.Length; j += 3) yield return new[] { text[..i], text[i..j], text[j..] };
        }
    }

    [Theory]
    [InlineData("<think>\nLet me see.\n2+2=4.\n</think>\n\nThe answer is 4.", false, "Let me see.\n2+2=4.", "The answer is 4.")]
    [InlineData("  <think>x</think>y", false, "x", "y")]
    [InlineData("Just an answer, no thinking.", false, "", "Just an answer, no thinking.")]
    [InlineData("  leading space answer <think>not reasoning</think>", false, "", "  leading space answer <think>not reasoning</think>")]
    [InlineData("<thin", false, "", "<thin")]
    [InlineData("<think>unfinished reasoning", false, "unfinished reasoning", "")]
    [InlineData("<think>a < b and </thi is not a tag</think>ok", false, "a < b and </thi is not a tag", "ok")]
    [InlineData("Okay, the user wants 4.\n</think>\n\nFour.", true, "Okay, the user wants 4.", "Four.")]
    [InlineData("\nreasoning only, cut off", true, "reasoning only, cut off", "")]
    [InlineData("</think>Direct answer", true, "", "Direct answer")]
    [InlineData("<think>\n\n</think>\n\nEmpty think.", false, "", "Empty think.")]
    [InlineData("<think>r</think>answer with </think> inside", false, "r", "answer with </think> inside")]
    [InlineData("<think>\nrepeated open tag</think>answer", true, "repeated open tag", "answer")]
    [InlineData("<thinking is a word", true, "<thinking is a word", "")]
    [InlineData("", false, "", "")]
    [InlineData("", true, "", "")]
    public void SplitsReasoningFromContentWhateverTheChunking(string text, bool startsInReasoning, string reasoning, string content)
    {
        foreach (var deltas in Splits(text))
        {
            var result = Feed(new ReasoningParser(startsInReasoning), deltas);
            Assert.Equal((reasoning, content), result);
        }
    }

    [Fact]
    public void StreamsReasoningBeforeTheCloseTagArrives()
    {
        var p = new ReasoningParser();
        Assert.Equal(("", ""), p.Push("<th"));
        Assert.Equal(("", ""), p.Push("ink>\n"));
        Assert.True(p.InReasoning);
        Assert.Equal(("Step one", ""), p.Push("Step one"));
        Assert.Equal(("", ""), p.Push("\n</th"));          // trailing newline and a partial tag are held back
        Assert.Equal(("\n</th.", ""), p.Push("."));       // ...and released when they turn out to be text
        Assert.Equal(("", ""), p.Push("\n</think"));
        Assert.Equal(("", ""), p.Push(">\n"));            // closed: the newline before the tag was dropped
        Assert.False(p.InReasoning);
        Assert.Equal(("", "Done."), p.Push("Done."));
        Assert.Equal(("", ""), p.Flush());
        Assert.Equal(("Step one\n</th.", "Done."), (p.Reasoning, p.Content));
    }

    [Fact]
    public void HeldBackTextIsReleasedInOrder()
    {
        var p = new ReasoningParser();
        p.Push("<think>A");
        p.Push("\n</th");
        var (r, c) = p.Push("x</think>\n\nB");
        Assert.Equal("\n</thx", r);
        Assert.Equal("B", c);
        Assert.Equal("A\n</thx", p.Reasoning);
        Assert.False(p.InReasoning);
    }

    [Fact]
    public void WithoutTrimmingKeepsWhitespace()
    {
        var p = new ReasoningParser { TrimWhitespace = false };
        var result = Feed(p, new[] { "<think>\nr\n</think>", "\n\nc" });
        Assert.Equal(("\nr\n", "\n\nc"), result);
    }

    [Fact]
    public void CustomTags()
    {
        var result = Feed(new ReasoningParser(false, "[THINK]", "[/THINK]"), new[] { "[THI", "NK]plan[/TH", "INK]done" });
        Assert.Equal(("plan", "done"), result);
    }

    [Fact]
    public void ForPromptDetectsAnOpenThinkBlock()
    {
        Assert.True(ReasoningParser.ForPrompt("<｜User｜>hi<｜Assistant｜><think>\n").InReasoning);
        Assert.False(ReasoningParser.ForPrompt("<|im_start|>assistant\n").InReasoning);
        Assert.False(ReasoningParser.ForPrompt("<|im_start|>assistant\n<think>\n\n</think>\n\n").InReasoning);
    }
}
