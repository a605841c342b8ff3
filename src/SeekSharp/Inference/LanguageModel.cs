using SeekSharp.Gguf;
using SeekSharp.Models;
using SeekSharp.Tokenization;

namespace SeekSharp.Inference;

/// <summary>A GGUF model opened for inference: the memory-mapped file, its transformer and its tokenizer.</summary>
public sealed class LanguageModel : IDisposable
{
    private LanguageModel(GgufFile file, IDecoderModel model, BpeTokenizer tokenizer)
    {
        File = file;
        Model = model;
        Tokenizer = tokenizer;
    }

    public GgufFile File { get; }
    /// <summary>The architecture's forward pass.</summary>
    public IDecoderModel Model { get; }
    /// <summary>The Llama-family transformer, or null for other architectures (see <see cref="Model"/>).</summary>
    public DecoderTransformer? Transformer => Model as DecoderTransformer;
    public ModelConfig Config => Model.Config;
    public BpeTokenizer Tokenizer { get; }

    /// <summary>Opens a model file. Errors name the problem: missing file, bad GGUF, unsupported architecture, bad tensor.</summary>
    public static LanguageModel Load(string path) => Load(path, null);

    /// <summary>Opens a model file with <paramref name="options"/> (null: the defaults, as llama.cpp's).</summary>
    public static LanguageModel Load(string path, ModelLoadOptions? options)
    {
        options ??= ModelLoadOptions.Default;
        var file = GgufFile.Open(path);
        try
        {
            var config = ModelConfig.FromGguf(file); // unsupported architectures are reported before anything else
            string model = file.GetStringOrNull("tokenizer.ggml.model")
                ?? throw new GgufFormatException("the file has no tokenizer (tokenizer.ggml.model is missing)");
            if (model != "gpt2")
                throw new NotSupportedException($"tokenizer model '{model}' is not supported (only byte-level BPE, 'gpt2')");
            var tokenizer = new BpeTokenizer(GgufVocabulary.Read(file));
            IDecoderModel transformer = config.IsMla
                ? new DeepSeek2Transformer(config, DeepSeek2Weights.Load(file, config, options.Repack))
                : new DecoderTransformer(config, TransformerWeights.Load(file, config, options.Repack));
            if (tokenizer.VocabSize > config.VocabSize)
            {
                (transformer as IDisposable)?.Dispose();
                throw new GgufFormatException($"tokenizer has {tokenizer.VocabSize} tokens but the model only {config.VocabSize}");
            }
            return new LanguageModel(file, transformer, tokenizer);
        }
        catch
        {
            file.Dispose();
            throw;
        }
    }

    public InferenceSession CreateSession(int contextSize = 0, int threads = 0, int batchSize = 512, KvCacheType cacheType = KvCacheType.F16) =>
        new(this, contextSize, threads, batchSize, cacheType);

    public void Dispose()
    {
        (Model as IDisposable)?.Dispose();
        File.Dispose();
    }
}
