using SeekSharp.Chat;
using SeekSharp.Gguf;
using SeekSharp.Inference;
using SeekSharp.Tests.Conformance;

namespace SeekSharp.Tests.Chat;

/// <summary>The library chat session on small random models: KV cache reuse, reasoning split, history, cancellation.</summary>
public class ChatSessionTests(TestModels models) : IClassFixture<TestModels>
{
    private static readonly string TemplatesDir = Path.Combine(AppContext.BaseDirectory, "TestData", "chat-templates", "templates");

    private static ChatSessionOptions Greedy(int maxTokens = 8, string? template = null) => new()
    {
        Sampling = SamplingOptions.Greedy,
        MaxTokens = maxTokens,
        StopAtEndOfGeneration = false,
        Template = template,
    };

    private static (string Reasoning, string Content, List<int> Ids) Collect(IEnumerable<ChatDelta> deltas)
    {
        string r = "", c = "";
        var ids = new List<int>();
        foreach (var d in deltas)
        {
            r += d.Reasoning;
            c += d.Content;
            if (d.TokenId >= 0) ids.Add(d.TokenId);
        }
        return (r, c, ids);
    }

    [Fact]
    public void SecondTurnEvaluatesOnlyTheSuffixAfterTheCachedPrefixAndMatchesAFreshSession()
    {
        using var model = LanguageModel.Load(models.Get("qwen2", GgmlType.F32));
        using var session = model.CreateSession(1024, threads: 2);
        var chat = new ChatSession(model, session, Greedy() with { SystemPrompt = "You are terse." });
        Assert.False(chat.UsesFallbackTemplate); // seek's random models carry ChatML in tokenizer.chat_template

        var first = Collect(chat.Send("Hello there"));
        Assert.Equal(8, first.Ids.Count);
        Assert.Equal(0, chat.LastStats!.CachedTokens);
        var cachedBefore = session.Tokens.ToArray();

        string prompt2 = RenderWith(chat, "What is the capital of France?");
        int[] tokens2 = chat.Tokenize(prompt2);
        int lcp = 0;
        while (lcp < cachedBefore.Length && lcp < tokens2.Length && cachedBefore[lcp] == tokens2[lcp]) lcp++;

        var second = Collect(chat.Send("What is the capital of France?"));
        var s = chat.LastStats!;
        Assert.Equal(tokens2.Length, s.PromptTokens);
        Assert.Equal(lcp, s.CachedTokens);
        Assert.True(s.CachedTokens > first.Ids.Count, $"only {s.CachedTokens} tokens reused");
        Assert.Equal(tokens2.Length - lcp, s.EvaluatedPromptTokens);
        Assert.Equal(tokens2, session.Tokens.Take(tokens2.Length));

        // The reused cache must give exactly what evaluating the whole conversation from scratch gives.
        using var fresh = model.CreateSession(1024, threads: 2);
        var replay = new ChatSession(model, fresh, Greedy() with { SystemPrompt = "You are terse." });
        replay.Load(chat.Messages.Take(3));
        var again = Collect(replay.Send("What is the capital of France?"));
        Assert.Equal(0, replay.LastStats!.CachedTokens);
        Assert.Equal(second.Ids, again.Ids);
        Assert.Equal(5, chat.Messages.Count);
        Assert.Equal(new[] { "system", "user", "assistant", "user", "assistant" }, chat.Messages.Select(m => m.Role));
        Assert.Equal(second.Content, chat.Messages[^1].Content);
    }

    /// <summary>The prompt the session will render once <paramref name="user"/> is added.</summary>
    private static string RenderWith(ChatSession chat, string user)
    {
        var copy = chat.Messages.Append(ChatMessage.User(user)).ToList();
        var saved = chat.Messages.ToList();
        chat.Load(copy);
        string prompt = chat.RenderPrompt();
        chat.Load(saved);
        return prompt;
    }

    [Fact]
    public void TemplateEndingInThinkStartsInReasoningAndStoresItAsReasoningContent()
    {
        using var model = LanguageModel.Load(models.Get("qwen2", GgmlType.F32));
        using var session = model.CreateSession(1024, threads: 2);
        string r1 = File.ReadAllText(Path.Combine(TemplatesDir, "deepseek-r1-distill-qwen.jinja"));
        var chat = new ChatSession(model, session, Greedy(12, r1));
        Assert.EndsWith("<｜Assistant｜><think>\n", chat.RenderPrompt());

        var (reasoning, content, ids) = Collect(chat.Send("Why is the sky blue?"));
        // A random model never closes the think block: everything is reasoning.
        Assert.Equal("", content);
        Assert.NotEqual("", reasoning);
        Assert.Equal(12, chat.LastStats!.ReasoningTokens);
        var answer = chat.Messages[^1];
        Assert.Equal("assistant", answer.Role);
        Assert.Equal("", answer.Content);
        Assert.Equal(reasoning, answer.ReasoningContent);
        Assert.Equal(reasoning.Trim(), model.Tokenizer.Decode(ids.ToArray()).Trim());

        // The template drops earlier reasoning: the next prompt shows the (empty) answer only.
        string next = chat.RenderPrompt();
        Assert.DoesNotContain(reasoning.Trim(), next);
    }

    [Fact]
    public void SaveAndLoadRoundTripTheConversation()
    {
        using var model = LanguageModel.Load(models.Get("qwen2", GgmlType.F32));
        using var session = model.CreateSession(512, threads: 2);
        var chat = new ChatSession(model, session, Greedy(4) with { SystemPrompt = "sys ✓" });
        Collect(chat.Send("first \"quoted\" question\nline 2 — ünïcode 😀"));
        chat.Load(chat.Messages.Take(2).Append(ChatMessage.Assistant("an answer", "some </think>-free reasoning")));
        string prompt = chat.RenderPrompt();

        string file = Path.Combine(models.Folder, "saved-chat.json");
        ChatMessage.Save(file, chat.Messages);
        Assert.Empty(Directory.GetFiles(models.Folder, "*.tmp"));

        using var session2 = model.CreateSession(512, threads: 2);
        var restored = new ChatSession(model, session2, Greedy(4));
        restored.Load(ChatMessage.Load(file));
        Assert.Equal(chat.Messages, restored.Messages);
        Assert.Equal("sys ✓", restored.SystemPrompt);
        Assert.Equal(prompt, restored.RenderPrompt());

        // The {"messages": [...]} form reads the same.
        File.WriteAllText(file, "{\"messages\": " + ChatMessage.ToJson(chat.Messages) + "}");
        Assert.Equal(chat.Messages, ChatMessage.Load(file));
    }

    [Fact]
    public void CancellationStopsTheAnswerKeepsItAndTheNextTurnWorks()
    {
        using var model = LanguageModel.Load(models.Get("qwen2", GgmlType.F32));
        using var session = model.CreateSession(1024, threads: 2);
        var chat = new ChatSession(model, session, Greedy(-1));
        using var cancel = new CancellationTokenSource();
        int n = 0;
        string content = "";
        foreach (var d in chat.Send("Tell me a long story", cancel.Token))
        {
            content += d.Content;
            if (d.TokenId >= 0 && ++n == 5) cancel.Cancel();
        }
        Assert.Equal("cancelled", chat.LastStats!.StopReason);
        Assert.Equal(5, chat.LastStats.GeneratedTokens);
        Assert.Equal(content, chat.Messages[^1].Content);

        var next = Collect(chat.Send("Go on", CancellationToken.None).Take(3));
        Assert.Equal(3, next.Ids.Count);
        Assert.True(chat.LastStats!.CachedTokens > 0);
        Assert.Equal(4, chat.Messages.Count); // stopping early still stores the partial answer
    }

    [Fact]
    public void ModelWithoutATemplateFallsBackToChatMLAndTooLongConversationsAreRefused()
    {
        string path = Path.Combine(models.Folder, "no-template.gguf");
        var family = Models.ArchitectureRegistry.Find("qwen2")!;
        Models.RandomModelBuilder.Build(new Models.RandomModelOptions
        {
            Architecture = family,
            Shape = family.Presets.First(p => p.Name == "tiny"),
            Vocabulary = Models.SyntheticVocabulary.PadTo(Models.SyntheticVocabulary.Create(512), 512),
        }).Write(path);
        using var model = LanguageModel.Load(path);
        Assert.Null(ModelChatTemplate.FromGguf(model.File));
        using var session = model.CreateSession(64, threads: 2);
        var chat = new ChatSession(model, session, Greedy(2));
        Assert.True(chat.UsesFallbackTemplate);
        Assert.Equal("<|im_start|>user\nhi<|im_end|>\n<|im_start|>assistant\n", RenderWith(chat, "hi"));

        var ex = Assert.Throws<ContextFullException>(() => chat.Send(string.Concat(Enumerable.Repeat("word ", 200))));
        Assert.Contains("does not fit", ex.Message);
        Assert.Empty(chat.Messages); // the refused message is not kept
    }
}
