namespace SeekSharp.Numerics.Threading;

/// <summary>
/// The work of one <see cref="WorkerPool.For{TBody}"/> call. Implemented by structs so the pool can run it through a
/// generic function pointer with no boxing, delegate or closure allocation.
/// </summary>
public interface IParallelBody
{
    /// <summary>Processes items [<paramref name="start"/>, <paramref name="end"/>).</summary>
    void Execute(int start, int end);
}
