namespace SeekSharp.Tokenization;

/// <summary>
/// A byte-level BPE vocabulary: what a GGUF file's tokenizer.ggml.* keys hold for tokenizer.ggml.model = "gpt2".
/// Ids not set are -1.
/// </summary>
public sealed class Vocabulary
{
    /// <summary>Token strings, index = id. Normal tokens are byte-level (GPT-2 unicode-mapped) strings; control and
    /// user-defined tokens hold their plain text.</summary>
    public required string[] Tokens { get; init; }

    /// <summary>Token types, index = id (at least as many as <see cref="Tokens"/>).</summary>
    public required TokenType[] TokenTypes { get; init; }

    /// <summary>Merges as "left right" (byte-level strings); rank = index.</summary>
    public required string[] Merges { get; init; }

    /// <summary>tokenizer.ggml.pre: deepseek-v3, deepseek-r1-qwen, qwen2, llama-bpe, deepseek-llm, deepseek-coder, gpt-2, default...</summary>
    public string PreTokenizer { get; init; } = "default";

    public int BosId { get; init; } = -1;
    public int EosId { get; init; } = -1;
    public int EotId { get; init; } = -1;
    public int PadId { get; init; } = -1;
    public int UnknownId { get; init; } = -1;

    /// <summary>Prepend BOS when encoding with special tokens (tokenizer.ggml.add_bos_token).</summary>
    public bool AddBos { get; init; }

    /// <summary>Append EOS when encoding with special tokens (tokenizer.ggml.add_eos_token).</summary>
    public bool AddEos { get; init; }

    /// <summary>Number of tokens.</summary>
    public int Count => Tokens.Length;
}
