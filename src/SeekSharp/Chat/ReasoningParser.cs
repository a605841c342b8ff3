using System.Text;

namespace SeekSharp.Chat;

/// <summary>
/// Splits a model's streamed output into reasoning (the text inside <c>&lt;think&gt;…&lt;/think&gt;</c>) and the answer,
/// incrementally. Tags may arrive split across deltas; text that might be the start of a tag is held back until it
/// is decided. Whitespace right after <c>&lt;think&gt;</c>, right before <c>&lt;/think&gt;</c> and right after
/// <c>&lt;/think&gt;</c> is dropped (the templates put newlines there), unless <see cref="TrimWhitespace"/> is false.
/// </summary>
/// <remarks>
/// With <c>startsInReasoning</c> (the prompt already opened the think block, as DeepSeek-R1's template does) the
/// output is reasoning until <c>&lt;/think&gt;</c>. Otherwise a think block is recognized only at the very start of the
/// output (after optional whitespace); output that does not start with one is all answer.
/// </remarks>
public sealed class ReasoningParser
{
    private enum State { Start, Reasoning, ContentStart, Content }

    private readonly string _open;
    private readonly string _close;
    private readonly StringBuilder _pending = new();
    private readonly StringBuilder _reasoning = new();
    private readonly StringBuilder _content = new();
    private State _state;
    private bool _reasoningStarted; // some non-whitespace reasoning was emitted
    private bool _mayRepeatOpen;    // started inside the block: a redundant open tag at the very start is dropped

    public ReasoningParser(bool startsInReasoning = false, string openTag = "<think>", string closeTag = "</think>")
    {
        ArgumentException.ThrowIfNullOrEmpty(openTag);
        ArgumentException.ThrowIfNullOrEmpty(closeTag);
        _open = openTag;
        _close = closeTag;
        _state = startsInReasoning ? State.Reasoning : State.Start;
        _mayRepeatOpen = startsInReasoning;
    }

    /// <summary>
    /// A parser for the output that follows <paramref name="prompt"/>: it starts inside the think block when the
    /// rendered prompt ends with the open tag (DeepSeek-R1's templates end the generation prompt with "&lt;think&gt;\n").
    /// </summary>
    public static ReasoningParser ForPrompt(string prompt, string openTag = "<think>", string closeTag = "</think>")
    {
        ArgumentNullException.ThrowIfNull(prompt);
        return new ReasoningParser(prompt.TrimEnd().EndsWith(openTag, StringComparison.Ordinal), openTag, closeTag);
    }

    /// <summary>Drop whitespace adjacent to the tags (default true).</summary>
    public bool TrimWhitespace { get; init; } = true;

    /// <summary>All reasoning text emitted so far.</summary>
    public string Reasoning => _reasoning.ToString();

    /// <summary>All answer text emitted so far.</summary>
    public string Content => _content.ToString();

    /// <summary>True while the parser is inside the think block.</summary>
    public bool InReasoning => _state == State.Reasoning;

    /// <summary>Feeds the next piece of output; returns the newly decided reasoning and answer text.</summary>
    public (string Reasoning, string Content) Push(string delta)
    {
        ArgumentNullException.ThrowIfNull(delta);
        _pending.Append(delta);
        return Drain(final: false);
    }

    /// <summary>Ends the stream: everything held back is emitted (an unfinished tag is kept as text).</summary>
    public (string Reasoning, string Content) Flush() => Drain(final: true);

    private (string, string) Drain(bool final)
    {
        var reasoning = new StringBuilder();
        var content = new StringBuilder();
        bool progress = true;
        while (progress)
        {
            progress = false;
            string buf = _pending.ToString();
            switch (_state)
            {
                case State.Start:
                {
                    int ws = 0;
                    while (ws < buf.Length && char.IsWhiteSpace(buf[ws])) ws++;
                    string rest = buf[ws..];
                    if (rest.StartsWith(_open, StringComparison.Ordinal))
                    {
                        _pending.Remove(0, ws + _open.Length);
                        _state = State.Reasoning;
                        progress = true;
                    }
                    else if (!final && (rest.Length == 0 || _open.StartsWith(rest, StringComparison.Ordinal)))
                    {
                        // Undecided: only whitespace or a prefix of the open tag so far.
                    }
                    else
                    {
                        _state = State.Content;
                        progress = buf.Length > 0;
                    }
                    break;
                }
                case State.Reasoning:
                {
                    if (_mayRepeatOpen)
                    {
                        // Some models repeat the open tag the prompt already contains; drop it.
                        int ws = 0;
                        while (ws < buf.Length && char.IsWhiteSpace(buf[ws])) ws++;
                        string rest = buf[ws..];
                        if (rest.StartsWith(_open, StringComparison.Ordinal))
                        {
                            _pending.Remove(0, ws + _open.Length);
                            _mayRepeatOpen = false;
                            progress = true;
                            break;
                        }
                        if (!final && (rest.Length == 0 || _open.StartsWith(rest, StringComparison.Ordinal)))
                            break; // undecided
                        _mayRepeatOpen = false;
                    }
                    int close = buf.IndexOf(_close, StringComparison.Ordinal);
                    if (close >= 0)
                    {
                        EmitReasoning(reasoning, buf[..close], atEnd: true);
                        _pending.Remove(0, close + _close.Length);
                        _state = TrimWhitespace ? State.ContentStart : State.Content;
                        progress = true;
                        break;
                    }
                    if (final)
                    {
                        EmitReasoning(reasoning, buf, atEnd: true);
                        _pending.Clear();
                        break;
                    }
                    // Hold back a suffix that could begin the close tag, and (when trimming) trailing whitespace,
                    // which is dropped if the close tag follows.
                    int keep = PartialTagSuffix(buf, _close);
                    int emitEnd = buf.Length - keep;
                    if (TrimWhitespace)
                        while (emitEnd > 0 && char.IsWhiteSpace(buf[emitEnd - 1])) emitEnd--;
                    if (emitEnd > 0)
                    {
                        EmitReasoning(reasoning, buf[..emitEnd], atEnd: false);
                        _pending.Remove(0, emitEnd);
                    }
                    break;
                }
                case State.ContentStart:
                {
                    int ws = 0;
                    while (ws < buf.Length && char.IsWhiteSpace(buf[ws])) ws++;
                    if (ws < buf.Length)
                    {
                        _pending.Remove(0, ws);
                        _state = State.Content;
                        progress = true;
                    }
                    else if (final)
                    {
                        _pending.Clear();
                    }
                    break;
                }
                case State.Content:
                    content.Append(buf);
                    _pending.Clear();
                    break;
            }
        }
        string r = reasoning.ToString(), c = content.ToString();
        _reasoning.Append(r);
        _content.Append(c);
        return (r, c);
    }

    private void EmitReasoning(StringBuilder output, string text, bool atEnd)
    {
        if (TrimWhitespace)
        {
            if (!_reasoningStarted) text = text.TrimStart();
            if (atEnd) text = text.TrimEnd();
        }
        if (text.Length == 0) return;
        _reasoningStarted = true;
        output.Append(text);
    }

    /// <summary>Length of the longest proper prefix of <paramref name="tag"/> that ends <paramref name="text"/>.</summary>
    private static int PartialTagSuffix(string text, string tag)
    {
        for (int len = Math.Min(tag.Length - 1, text.Length); len > 0; len--)
            if (string.CompareOrdinal(text, text.Length - len, tag, 0, len) == 0) return len;
        return 0;
    }
}
