using System.Text.Json.Nodes;
using SeekSharp.Inference;

namespace SeekSharp.Chat;

/// <summary>
/// A conversation with a model: keeps the history, renders it with the model's chat template (ChatML when the model
/// has none), evaluates only the prompt tokens the KV cache does not already hold (everything after the longest
/// common prefix with the cached tokens), and streams the answer split into reasoning and content. Answers are stored
/// with the content as the message and the think block as <c>reasoning_content</c>; the template decides how earlier
/// turns are shown (DeepSeek-R1's drops the reasoning).
/// </summary>
/// <remarks>
/// Writes nothing to the console, so a server can drive it too. Not thread-safe: one answer at a time; the
/// <see cref="InferenceSession"/> must not be used by anything else meanwhile.
/// </remarks>
public sealed class ChatSession
{
    private readonly LanguageModel _model;
    private readonly InferenceSession _session;
    private readonly ChatSessionOptions _options;
    private readonly Sampler _sampler;
    private readonly List<ChatMessage> _history = new();

    public ChatSession(LanguageModel model, InferenceSession session, ChatSessionOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(session);
        _model = model;
        _session = session;
        _options = options ?? new ChatSessionOptions();
        _options.Sampling.Validate();
        _sampler = new Sampler(_options.Sampling);
        string? source = _options.Template ?? ModelChatTemplate.FromGguf(model.File);
        UsesFallbackTemplate = source == null;
        Template = ChatTemplate.Parse(source ?? ModelChatTemplate.ChatML);
        var vocab = model.Tokenizer.Vocabulary;
        BosToken = vocab.BosId >= 0 && vocab.BosId < vocab.Count ? model.Tokenizer.TokenText(vocab.BosId) : null;
        EosToken = vocab.EosId >= 0 && vocab.EosId < vocab.Count ? model.Tokenizer.TokenText(vocab.EosId) : null;
        SystemPrompt = _options.SystemPrompt;
    }

    public ChatTemplate Template { get; }

    /// <summary>True when the model has no template and ChatML is used.</summary>
    public bool UsesFallbackTemplate { get; }

    public string? BosToken { get; }
    public string? EosToken { get; }

    /// <summary>System prompt placed before the conversation; null for none.</summary>
    public string? SystemPrompt { get; set; }

    /// <summary>The seed the sampler uses.</summary>
    public ulong Seed => _sampler.Seed;

    /// <summary>The conversation, the system prompt first when there is one.</summary>
    public IReadOnlyList<ChatMessage> Messages =>
        SystemPrompt == null ? _history.ToList() : _history.Prepend(ChatMessage.System(SystemPrompt)).ToList();

    /// <summary>Counts and timings of the last answer.</summary>
    public ChatTurnStats? LastStats { get; private set; }

    /// <summary>Forgets the conversation (the system prompt stays). The KV cache is reused where it still matches.</summary>
    public void Reset() => _history.Clear();

    /// <summary>Replaces the conversation; a leading system message becomes the <see cref="SystemPrompt"/>.</summary>
    public void Load(IEnumerable<ChatMessage> messages)
    {
        var list = messages.ToList();
        _history.Clear();
        if (list.Count > 0 && list[0].Role == "system")
        {
            SystemPrompt = list[0].Content;
            list.RemoveAt(0);
        }
        _history.AddRange(list);
    }

    /// <summary>Renders the conversation (plus the opening of an assistant turn when asked).</summary>
    public string RenderPrompt(bool addGenerationPrompt = true)
    {
        var messages = new JsonArray();
        foreach (var m in Messages) messages.Add(m.ToJson());
        var context = new ChatTemplateContext
        {
            Messages = messages,
            AddGenerationPrompt = addGenerationPrompt,
            BosToken = BosToken,
            EosToken = EosToken,
        };
        if (_options.TemplateVariables != null)
            foreach (var kv in _options.TemplateVariables) context.Extra[kv.Key] = kv.Value?.DeepClone();
        return Template.Render(context);
    }

    /// <summary>Tokens of a rendered prompt: special tokens parsed, BOS added unless the template already wrote it.</summary>
    public int[] Tokenize(string prompt)
    {
        bool hasBos = BosToken != null && prompt.StartsWith(BosToken, StringComparison.Ordinal);
        return _model.Tokenizer.Encode(prompt, addSpecial: !hasBos, parseSpecial: true);
    }

    /// <summary>
    /// Adds a user message and streams the answer. Nothing is generated until the result is enumerated; the answer
    /// is stored in the conversation when the stream ends, also when it is cancelled or the caller stops reading
    /// early (then with what was produced so far). Enumerate each result once, before the next call.
    /// </summary>
    /// <exception cref="ContextFullException">The conversation no longer fits the context (the message is not added).</exception>
    /// <exception cref="TemplateException">The template failed (the message is not added).</exception>
    public IEnumerable<ChatDelta> Send(string userMessage, CancellationToken cancellation = default)
    {
        ArgumentNullException.ThrowIfNull(userMessage);
        _history.Add(ChatMessage.User(userMessage));
        string prompt;
        int[] tokens;
        try
        {
            prompt = RenderPrompt(addGenerationPrompt: true);
            tokens = Tokenize(prompt);
            if (tokens.Length == 0) throw new ArgumentException("the rendered prompt is empty");
            if (tokens.Length >= _session.ContextSize)
                throw new ContextFullException($"the conversation is {tokens.Length} tokens, which does not fit a context of {_session.ContextSize} (reset it or raise -c)");
        }
        catch
        {
            _history.RemoveAt(_history.Count - 1);
            throw;
        }
        return Stream(prompt, tokens, cancellation);
    }

    private IEnumerable<ChatDelta> Stream(string prompt, int[] tokens, CancellationToken cancellation)
    {
        // Reuse the cached prefix; at least one token is evaluated again so there are logits to sample from.
        int keep = Math.Min(CommonPrefix(_session.Tokens, tokens), tokens.Length - 1);
        _session.Truncate(keep);
        _sampler.Reset();
        for (int i = 0; i < keep; i++) _sampler.Accept(tokens[i]);
        var suffix = tokens[keep..];

        var stats = new ChatTurnStats { PromptTokens = tokens.Length, CachedTokens = keep };
        LastStats = stats;
        var generation = new GenerationStats();
        var parser = ReasoningParser.ForPrompt(prompt);
        try
        {
            foreach (var token in TextGenerator.Generate(_session, _model.Tokenizer, suffix, _options.MaxTokens, _sampler,
                         generation, _options.StopAtEndOfGeneration, cancellation))
            {
                bool wasReasoning = parser.InReasoning;
                var (reasoning, content) = parser.Push(token.Text);
                if (token.Id >= 0 && (wasReasoning || parser.InReasoning)) stats.ReasoningTokens++;
                stats.GeneratedTokens = generation.GeneratedTokens;
                stats.PromptTime = generation.PromptTime;
                yield return new ChatDelta(token.Id, reasoning, content);
            }
            var (r, c) = parser.Flush();
            if (r.Length > 0 || c.Length > 0) yield return new ChatDelta(-1, r, c);
        }
        finally
        {
            stats.GeneratedTokens = generation.GeneratedTokens;
            stats.PromptTime = generation.PromptTime;
            stats.GenerationTime = generation.GenerationTime;
            stats.StopReason = cancellation.IsCancellationRequested ? "cancelled" : generation.StopReason == "" ? "cancelled" : generation.StopReason;
            string reasoningText = parser.Reasoning;
            _history.Add(ChatMessage.Assistant(parser.Content, reasoningText.Length > 0 ? reasoningText : null));
        }
    }

    private static int CommonPrefix(IReadOnlyList<int> cached, int[] tokens)
    {
        int n = Math.Min(cached.Count, tokens.Length), i = 0;
        while (i < n && cached[i] == tokens[i]) i++;
        return i;
    }
}
