namespace SeekSharp.Gguf;

/// <summary>A GGUF file is malformed, truncated, hostile or uses something this build does not support.
/// The message names the problem and, where it helps, the byte offset.</summary>
public sealed class GgufFormatException : Exception
{
    public GgufFormatException(string message) : base(message) { }
    public GgufFormatException(string message, Exception inner) : base(message, inner) { }
}
