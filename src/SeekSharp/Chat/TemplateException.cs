namespace SeekSharp.Chat;

/// <summary>What went wrong while parsing or rendering a chat template.</summary>
public enum TemplateErrorKind
{
    /// <summary>The template source is not valid (the message names line and column).</summary>
    Syntax,
    /// <summary>An operation failed while rendering (wrong types, unknown filter, calling a non-function...).</summary>
    Runtime,
    /// <summary>The template called <c>raise_exception(message)</c>.</summary>
    Raised,
    /// <summary>A sandbox limit (steps, loop iterations, recursion depth, output size) was exceeded.</summary>
    LimitExceeded,
}

/// <summary>Error raised by <see cref="ChatTemplate"/> for syntax errors, render failures and sandbox limits.</summary>
public sealed class TemplateException : Exception
{
    /// <summary>1-based line of the offending template construct, or 0 when unknown.</summary>
    public int Line { get; }

    /// <summary>1-based column of the offending template construct, or 0 when unknown.</summary>
    public int Column { get; }

    /// <summary>Category of the failure.</summary>
    public TemplateErrorKind Kind { get; }

    /// <summary>The message without the position prefix.</summary>
    public string Detail { get; }

    public TemplateException(string message)
        : this(TemplateErrorKind.Runtime, message, 0, 0) { }

    public TemplateException(TemplateErrorKind kind, string message, int line = 0, int column = 0)
        : base(Format(kind, message, line, column))
    {
        Kind = kind;
        Detail = message;
        Line = line;
        Column = column;
    }

    private static string Format(TemplateErrorKind kind, string message, int line, int column)
    {
        string prefix = kind switch
        {
            TemplateErrorKind.Syntax => "template syntax error",
            TemplateErrorKind.Raised => "template raised an exception",
            TemplateErrorKind.LimitExceeded => "template sandbox limit exceeded",
            _ => "template error",
        };
        return line > 0 ? $"{prefix} at line {line}, column {column}: {message}" : $"{prefix}: {message}";
    }

    /// <summary>Same error, positioned at the given construct (used when a builtin fails without knowing where it was called).</summary>
    internal TemplateException WithPosition(int line, int column) =>
        Line > 0 || line <= 0 ? this : new TemplateException(Kind, Detail, line, column);
}
