namespace SeekSharp.Conversion;

/// <summary>A .safetensors file (or a model folder's index) is malformed or inconsistent. The message names the file.</summary>
public sealed class SafeTensorsFormatException : IOException
{
    public SafeTensorsFormatException(string message) : base(message) { }
    public SafeTensorsFormatException(string message, Exception inner) : base(message, inner) { }
}
