using System.Runtime.InteropServices;
using System.Text;
using LLama;
using LLama.Common;
using SeekSharp.Gguf;
using SeekSharp.Tokenization;

namespace SeekSharp.Tests.Tokenization;

/// <summary>
/// llama.cpp's own tokenizer for a <see cref="Vocabulary"/>: the vocabulary is written to a vocab-only GGUF (no tensors),
/// loaded through LLamaSharp with VocabOnly, and llama.cpp's C API (llama_tokenize, llama_detokenize,
/// llama_token_to_piece, llama_vocab_is_eog) is called directly on the library LLamaSharp loaded.
/// </summary>
internal sealed unsafe class LlamaCppVocab : IDisposable
{
    private readonly LLamaWeights _weights;
    private readonly IntPtr _vocab;
    private readonly string _path;

    public LlamaCppVocab(Vocabulary vocab, string directory)
    {
        Directory.CreateDirectory(directory);
        _path = Path.Combine(directory, $"vocab-{vocab.PreTokenizer}-{Guid.NewGuid():N}.gguf");
        WriteVocabOnlyGguf(vocab, _path);
        _weights = LLamaWeights.LoadFromFile(new ModelParams(_path) { VocabOnly = true, GpuLayerCount = 0 });
        Native.EnsureBound();
        _vocab = Native.GetVocab(_weights.NativeHandle.DangerousGetHandle());
    }

    /// <summary>A GGUF llama.cpp accepts with vocab_only: architecture "llama", its required hyper-parameters, the vocabulary.</summary>
    public static void WriteVocabOnlyGguf(Vocabulary vocab, string path)
    {
        var writer = new GgufWriter();
        writer.Set("general.architecture", "llama");
        writer.Set("general.name", "seeksharp-tokenizer-test");
        writer.Set("llama.context_length", 4096u);
        writer.Set("llama.embedding_length", 64u);
        writer.Set("llama.block_count", 1u);
        writer.Set("llama.feed_forward_length", 128u);
        writer.Set("llama.attention.head_count", 4u);
        writer.Set("llama.attention.head_count_kv", 4u);
        writer.Set("llama.attention.layer_norm_rms_epsilon", 1e-5f);
        writer.Set("llama.rope.dimension_count", 16u);
        writer.Set("llama.vocab_size", (uint)vocab.Tokens.Length);
        GgufVocabulary.Write(writer, vocab);
        writer.Write(path);
    }

    public int[] Tokenize(string text, bool addSpecial, bool parseSpecial)
    {
        byte[] utf8 = Encoding.UTF8.GetBytes(text);
        int capacity = utf8.Length + 16;
        while (true)
        {
            var tokens = new int[capacity];
            int n;
            fixed (byte* t = utf8)
            fixed (int* o = tokens)
                n = Native.Tokenize(_vocab, t, utf8.Length, o, capacity, addSpecial, parseSpecial);
            if (n >= 0)
                return tokens.AsSpan(0, n).ToArray();
            capacity = -n;
        }
    }

    public byte[] Detokenize(ReadOnlySpan<int> ids, bool removeSpecial, bool unparseSpecial)
    {
        int capacity = ids.Length * 16 + 16;
        while (true)
        {
            var text = new byte[capacity];
            int n;
            fixed (int* t = ids)
            fixed (byte* o = text)
                n = Native.Detokenize(_vocab, t, ids.Length, o, capacity, removeSpecial, unparseSpecial);
            if (n >= 0)
                return text.AsSpan(0, n).ToArray();
            capacity = -n;
        }
    }

    public byte[] TokenToPiece(int id, bool special)
    {
        var buffer = new byte[256];
        int n;
        fixed (byte* b = buffer)
            n = Native.TokenToPiece(_vocab, id, b, buffer.Length, 0, special);
        if (n < 0)
        {
            buffer = new byte[-n];
            fixed (byte* b = buffer)
                n = Native.TokenToPiece(_vocab, id, b, buffer.Length, 0, special);
        }
        return buffer.AsSpan(0, n).ToArray();
    }

    public bool IsEog(int id) => Native.IsEog(_vocab, id);

    public int TokenCount => Native.VocabCount(_vocab);

    public void Dispose()
    {
        _weights.Dispose();
        try { File.Delete(_path); } catch (IOException) { }
    }

    /// <summary>Entry points of the libllama.so that LLamaSharp loaded (found in /proc/self/maps).</summary>
    private static class Native
    {
        private static readonly object s_lock = new();
        private static bool s_bound;
        private static delegate* unmanaged<IntPtr, byte*, int, int*, int, byte, byte, int> s_tokenize;
        private static delegate* unmanaged<IntPtr, int*, int, byte*, int, byte, byte, int> s_detokenize;
        private static delegate* unmanaged<IntPtr, int, byte*, int, int, byte, int> s_tokenToPiece;
        private static delegate* unmanaged<IntPtr, int, byte> s_isEog;
        private static delegate* unmanaged<IntPtr, int> s_vocabCount;
        private static delegate* unmanaged<IntPtr, IntPtr> s_getVocab;

        public static void EnsureBound()
        {
            lock (s_lock)
            {
                if (s_bound)
                    return;
                string path = LoadedLibraryPath("libllama.so")
                    ?? throw new InvalidOperationException("libllama.so is not mapped into this process");
                IntPtr lib = NativeLibrary.Load(path);
                s_tokenize = (delegate* unmanaged<IntPtr, byte*, int, int*, int, byte, byte, int>)NativeLibrary.GetExport(lib, "llama_tokenize");
                s_detokenize = (delegate* unmanaged<IntPtr, int*, int, byte*, int, byte, byte, int>)NativeLibrary.GetExport(lib, "llama_detokenize");
                s_tokenToPiece = (delegate* unmanaged<IntPtr, int, byte*, int, int, byte, int>)NativeLibrary.GetExport(lib, "llama_token_to_piece");
                s_isEog = (delegate* unmanaged<IntPtr, int, byte>)NativeLibrary.GetExport(lib, "llama_vocab_is_eog");
                s_vocabCount = (delegate* unmanaged<IntPtr, int>)NativeLibrary.GetExport(lib, "llama_vocab_n_tokens");
                s_getVocab = (delegate* unmanaged<IntPtr, IntPtr>)NativeLibrary.GetExport(lib, "llama_model_get_vocab");
                s_bound = true;
            }
        }

        public static string? LoadedLibraryPath(string fileName)
        {
            foreach (string line in File.ReadLines("/proc/self/maps"))
            {
                int slash = line.IndexOf('/');
                if (slash >= 0 && line.EndsWith("/" + fileName, StringComparison.Ordinal))
                    return line[slash..];
            }
            return null;
        }

        public static IntPtr GetVocab(IntPtr model) => s_getVocab(model);
        public static int Tokenize(IntPtr v, byte* text, int len, int* tokens, int max, bool addSpecial, bool parseSpecial) =>
            s_tokenize(v, text, len, tokens, max, addSpecial ? (byte)1 : (byte)0, parseSpecial ? (byte)1 : (byte)0);
        public static int Detokenize(IntPtr v, int* tokens, int n, byte* text, int max, bool removeSpecial, bool unparseSpecial) =>
            s_detokenize(v, tokens, n, text, max, removeSpecial ? (byte)1 : (byte)0, unparseSpecial ? (byte)1 : (byte)0);
        public static int TokenToPiece(IntPtr v, int id, byte* buf, int len, int lstrip, bool special) =>
            s_tokenToPiece(v, id, buf, len, lstrip, special ? (byte)1 : (byte)0);
        public static bool IsEog(IntPtr v, int id) => s_isEog(v, id) != 0;
        public static int VocabCount(IntPtr v) => s_vocabCount(v);
    }
}
