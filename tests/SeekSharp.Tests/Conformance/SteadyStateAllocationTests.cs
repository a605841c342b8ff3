using SeekSharp.Gguf;
using SeekSharp.Inference;

namespace SeekSharp.Tests.Conformance;

/// <summary>
/// A forward pass must not allocate managed memory once its buffers exist: no copies of the KV cache, no per-token
/// arrays. Runs with one thread so every allocation of the pass lands on the test thread's counter.
/// </summary>
public class SteadyStateAllocationTests(TestModels models) : IClassFixture<TestModels>
{
    [Theory]
    [InlineData("qwen2", GgmlType.Q8_0, KvCacheType.F16)]
    [InlineData("qwen2", GgmlType.Q4_K, KvCacheType.F16)]
    [InlineData("llama", GgmlType.Q4_0, KvCacheType.F32)]
    [InlineData("deepseek2", GgmlType.Q8_0, KvCacheType.F16)]
    public void DecodeAndPrefillAllocateNothing(string arch, GgmlType type, KvCacheType cacheType)
    {
        using var model = LanguageModel.Load(models.Get(arch, type));
        using var session = model.CreateSession(contextSize: 96, threads: 1, cacheType: cacheType);
        int[] prompt = Enumerable.Range(0, 24).Select(i => 3 + i % 50).ToArray();
        int[] one = [7];

        // Warm-up over the same positions: buffers reach their final size, the JIT settles.
        for (int round = 0; round < 3; round++)
        {
            session.Reset();
            session.Evaluate(prompt);
            for (int i = 0; i < 64; i++) session.Evaluate(one);
        }

        session.Reset();
        long before = GC.GetAllocatedBytesForCurrentThread();
        session.Evaluate(prompt);
        long prefill = GC.GetAllocatedBytesForCurrentThread() - before;
        before = GC.GetAllocatedBytesForCurrentThread();
        for (int i = 0; i < 64; i++) session.Evaluate(one);
        long decode = GC.GetAllocatedBytesForCurrentThread() - before;

        Assert.True(prefill == 0, $"a {prompt.Length}-token prefill allocated {prefill} bytes");
        Assert.True(decode == 0, $"64 decode steps allocated {decode} bytes");
    }
}
