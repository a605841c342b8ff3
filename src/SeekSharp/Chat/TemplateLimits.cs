namespace SeekSharp.Chat;

/// <summary>
/// Sandbox limits for rendering. A template is untrusted input (it ships inside model files), so every render is
/// bounded in time (steps, loop iterations), stack (recursion depth) and memory (size of any string or list).
/// </summary>
public sealed record TemplateLimits
{
    /// <summary>Defaults sized for real chat templates over very long conversations.</summary>
    public static TemplateLimits Default { get; } = new();

    /// <summary>Upper bound on evaluation steps (about one per expression node, plus one per 64 characters built).</summary>
    public long MaxSteps { get; init; } = 50_000_000;

    /// <summary>Upper bound on the total number of loop iterations across all loops of one render.</summary>
    public long MaxLoopIterations { get; init; } = 2_000_000;

    /// <summary>Upper bound on nested macro/caller calls.</summary>
    public int MaxRecursionDepth { get; init; } = 64;

    /// <summary>Upper bound on the length (UTF-16 chars) of the output and of any string or list built while rendering.</summary>
    public int MaxOutputChars { get; init; } = 10_000_000;
}
