using System.Diagnostics;
using System.Runtime.CompilerServices;
using System.Runtime.ExceptionServices;

namespace SeekSharp.Numerics.Threading;

/// <summary>
/// A fixed set of persistent worker threads for fork-join loops. The calling thread is one of the workers, so a pool of
/// N threads starts N - 1 background threads once and reuses them for every <see cref="For{TBody}"/> call.
/// </summary>
/// <remarks>
/// A call publishes one job (a pointer to the caller's body struct plus a generic trampoline), wakes the workers, and
/// everybody, the caller included, claims chunks from a shared counter until none are left. Workers spin for a short
/// while after a job before they block, because decode runs hundreds of small parallel loops per token with only a few
/// microseconds of serial work between them. A call made while the pool is already busy (from inside a body, or from
/// another thread) runs serially on its own thread instead of waiting, which makes nested use safe.
/// </remarks>
public sealed unsafe class WorkerPool : IDisposable
{
    private static readonly Lazy<WorkerPool> s_shared = new(() => new WorkerPool(Environment.ProcessorCount));

    /// <summary>A pool with <see cref="Environment.ProcessorCount"/> threads, created on first use.</summary>
    public static WorkerPool Shared => s_shared.Value;

    // How long an idle worker spins before it blocks; long enough to bridge the serial gaps between the matmuls of one
    // decode step, short enough not to burn a core when the engine is idle.
    private static readonly long s_spinTicks = Stopwatch.Frequency / 20_000; // 50 microseconds

    private readonly Thread[] _threads;
    private readonly object _sleepLock = new();

    // The published job. Written by the caller before _generation is bumped, read by workers after they observe it.
    private void* _body;
    private delegate*<void*, int, int, void> _invoke;
    private int _count;
    private int _chunks;
    private int _nextChunk;
    private int _running;                // workers that have not yet finished the current job
    private Exception? _error;

    private long _generation;
    private int _sleepers;
    private int _busy;
    private volatile bool _disposed;

    /// <summary>Creates a pool of <paramref name="threads"/> workers, the calling thread included.</summary>
    public WorkerPool(int threads)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(threads, 1);
        ThreadCount = threads;
        _threads = new Thread[threads - 1];
        for (int i = 0; i < _threads.Length; i++)
        {
            var t = new Thread(WorkerLoop, 256 * 1024) { IsBackground = true, Name = $"SeekSharp worker {i + 1}" };
            _threads[i] = t;
            t.Start();
        }
    }

    /// <summary>Number of threads that run a loop, the caller included.</summary>
    public int ThreadCount { get; }

    /// <summary>
    /// Splits [0, <paramref name="count"/>) into contiguous chunks of about <paramref name="grain"/> items or more, runs
    /// them on the workers and the caller, and returns when all are done. The first exception thrown by a chunk is
    /// rethrown here after every worker has stopped.
    /// </summary>
    public void For<TBody>(int count, ref TBody body, int grain = 1) where TBody : struct, IParallelBody
    {
        if (count <= 0)
            return;
        ObjectDisposedException.ThrowIf(_disposed, this);
        if (grain < 1)
            grain = 1;

        // At most a few chunks per thread: enough for load balance when threads are descheduled, few enough that the
        // shared counter is not contended.
        long byGrain = ((long)count + grain - 1) / grain;
        int chunks = (int)Math.Min(byGrain, (long)ThreadCount * 4);
        if (chunks <= 1 || ThreadCount == 1 || Interlocked.CompareExchange(ref _busy, 1, 0) != 0)
        {
            body.Execute(0, count);
            return;
        }

        // The body may live inside a heap object, so pin it while other threads hold its address.
        fixed (byte* pinned = &Unsafe.As<TBody, byte>(ref body))
        try
        {
            _body = pinned;
            _invoke = &Trampoline<TBody>.Invoke;
            _count = count;
            _chunks = chunks;
            _nextChunk = 0;
            _error = null;
            Volatile.Write(ref _running, _threads.Length);

            // The full fence of the increment orders the job fields before the new generation, and the generation
            // before the read of _sleepers (which pairs with the increment a worker does before it re-checks).
            Interlocked.Increment(ref _generation);
            if (Volatile.Read(ref _sleepers) > 0)
            {
                lock (_sleepLock)
                    Monitor.PulseAll(_sleepLock);
            }

            RunChunks();

            var spin = new SpinWait();
            while (Volatile.Read(ref _running) != 0)
                spin.SpinOnce(sleep1Threshold: -1);

            Exception? error = _error;
            _body = null;
            _error = null;
            if (error is not null)
                ExceptionDispatchInfo.Throw(error);
        }
        finally
        {
            Volatile.Write(ref _busy, 0);
        }
    }

    private void RunChunks()
    {
        int chunks = _chunks;
        int count = _count;
        void* body = _body;
        var invoke = _invoke;
        while (true)
        {
            int c = Interlocked.Increment(ref _nextChunk) - 1;
            if (c >= chunks)
                return;
            int start = (int)((long)count * c / chunks);
            int end = (int)((long)count * (c + 1) / chunks);
            try
            {
                invoke(body, start, end);
            }
            catch (Exception e)
            {
                Interlocked.CompareExchange(ref _error, e, null);
                // Stop handing out work; the chunks already running finish on their own.
                Volatile.Write(ref _nextChunk, chunks);
                return;
            }
        }
    }

    private void WorkerLoop()
    {
        long seen = 0;
        while (true)
        {
            long gen = Volatile.Read(ref _generation);
            if (gen == seen)
            {
                long spinUntil = Stopwatch.GetTimestamp() + s_spinTicks;
                var spin = new SpinWait();
                while ((gen = Volatile.Read(ref _generation)) == seen && !_disposed)
                {
                    if (Stopwatch.GetTimestamp() < spinUntil)
                    {
                        spin.SpinOnce(sleep1Threshold: -1);
                        continue;
                    }
                    Interlocked.Increment(ref _sleepers);
                    lock (_sleepLock)
                    {
                        while ((gen = Volatile.Read(ref _generation)) == seen && !_disposed)
                            Monitor.Wait(_sleepLock);
                    }
                    Interlocked.Decrement(ref _sleepers);
                }
                if (_disposed)
                    return;
            }
            seen = gen;
            RunChunks();
            Interlocked.Decrement(ref _running);
        }
    }

    /// <summary>Stops the worker threads. Must not be called while a loop is running.</summary>
    public void Dispose()
    {
        if (_disposed)
            return;
        _disposed = true;
        lock (_sleepLock)
            Monitor.PulseAll(_sleepLock);
        foreach (var t in _threads)
            t.Join();
    }

    private static class Trampoline<TBody> where TBody : struct, IParallelBody
    {
        public static void Invoke(void* body, int start, int end) => Unsafe.AsRef<TBody>(body).Execute(start, end);
    }
}
