namespace SeekSharp.Tokenization;

/// <summary>A token's type as stored in GGUF's tokenizer.ggml.token_type (llama.cpp's llama_token_type values).</summary>
public enum TokenType
{
    Undefined = 0,
    Normal = 1,
    Unknown = 2,
    Control = 3,
    UserDefined = 4,
    Unused = 5,
    Byte = 6,
}
