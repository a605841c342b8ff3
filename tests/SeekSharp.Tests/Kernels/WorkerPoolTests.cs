using SeekSharp.Numerics.Threading;

namespace SeekSharp.Tests.Kernels;

public class WorkerPoolTests
{
    private struct MarkBody : IParallelBody
    {
        public int[] Hits;
        public void Execute(int start, int end)
        {
            for (int i = start; i < end; i++)
                Interlocked.Increment(ref Hits[i]);
        }
    }

    [Theory]
    [InlineData(1, 100, 1)]
    [InlineData(2, 1, 1)]
    [InlineData(2, 1000, 1)]
    [InlineData(3, 1000, 64)]
    [InlineData(4, 7, 1)]
    [InlineData(2, 100_000, 1000)]
    public void EveryItemRunsExactlyOnce(int threads, int count, int grain)
    {
        using var pool = new WorkerPool(threads);
        Assert.Equal(threads, pool.ThreadCount);
        for (int rep = 0; rep < 3; rep++)
        {
            var body = new MarkBody { Hits = new int[count] };
            pool.For(count, ref body, grain);
            Assert.All(body.Hits, h => Assert.Equal(1, h));
        }
    }

    private struct ThrowBody : IParallelBody
    {
        public int ThrowAt;
        public void Execute(int start, int end)
        {
            if (ThrowAt >= start && ThrowAt < end)
                throw new InvalidOperationException("boom " + ThrowAt);
        }
    }

    [Fact]
    public void ExceptionsPropagateAndPoolStaysUsable()
    {
        using var pool = new WorkerPool(2);
        foreach (int at in new[] { 0, 50, 99 })
        {
            var body = new ThrowBody { ThrowAt = at };
            var e = Assert.Throws<InvalidOperationException>(() => pool.For(100, ref body));
            Assert.Equal("boom " + at, e.Message);
        }
        var ok = new MarkBody { Hits = new int[100] };
        pool.For(100, ref ok);
        Assert.All(ok.Hits, h => Assert.Equal(1, h));
    }

    private struct NestedBody : IParallelBody
    {
        public WorkerPool Pool;
        public int[] Hits;
        public void Execute(int start, int end)
        {
            for (int i = start; i < end; i++)
            {
                var inner = new MarkBody { Hits = new int[10] };
                Pool.For(10, ref inner);
                if (inner.Hits.All(h => h == 1))
                    Interlocked.Increment(ref Hits[i]);
            }
        }
    }

    [Fact]
    public void NestedCallsComplete()
    {
        using var pool = new WorkerPool(3);
        var body = new NestedBody { Pool = pool, Hits = new int[40] };
        pool.For(40, ref body);
        Assert.All(body.Hits, h => Assert.Equal(1, h));
    }

    private struct SumBody : IParallelBody
    {
        public long[] Partial;
        public void Execute(int start, int end)
        {
            long s = 0;
            for (int i = start; i < end; i++) s += i;
            Interlocked.Add(ref Partial[0], s);
        }
    }

    [Fact]
    public void ManySmallCalls()
    {
        using var pool = new WorkerPool(2);
        var body = new SumBody { Partial = new long[1] };
        pool.For(8, ref body);
        long before = GC.GetAllocatedBytesForCurrentThread();
        for (int i = 0; i < 20_000; i++)
            pool.For(8, ref body);
        Assert.True(GC.GetAllocatedBytesForCurrentThread() - before < 1024, "For allocates");
        Assert.Equal(20_001L * 28, body.Partial[0]);
    }

    [Fact]
    public async Task ConcurrentCallersBothFinish()
    {
        using var pool = new WorkerPool(2);
        var tasks = Enumerable.Range(0, 4).Select(_ => Task.Run(() =>
        {
            for (int i = 0; i < 500; i++)
            {
                var body = new MarkBody { Hits = new int[64] };
                pool.For(64, ref body);
                if (!body.Hits.All(h => h == 1))
                    return false;
            }
            return true;
        })).ToArray();
        bool[] results = await Task.WhenAll(tasks).WaitAsync(TimeSpan.FromSeconds(60));
        Assert.All(results, Assert.True);
    }

    [Fact]
    public void ArgumentsAndDispose()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => new WorkerPool(0));
        var pool = new WorkerPool(2);
        var body = new MarkBody { Hits = new int[0] };
        pool.For(0, ref body);
        pool.Dispose();
        pool.Dispose();
        var b2 = new MarkBody { Hits = new int[10] };
        Assert.Throws<ObjectDisposedException>(() => pool.For(10, ref b2));
        Assert.True(WorkerPool.Shared.ThreadCount == Environment.ProcessorCount);
    }
}
