namespace SeekSharp.Chat.Jinja;

internal abstract class Node
{
    public int Line;
    public int Column;
}

// ---- statements ----

internal sealed class TextNode(string text) : Node
{
    public readonly string Text = text;
}

internal sealed class OutputNode(Expr expr) : Node
{
    public readonly Expr Expr = expr;
}

internal sealed class IfNode : Node
{
    public readonly List<(Expr Test, List<Node> Body)> Branches = new();
    public List<Node>? Else;
}

internal sealed class ForNode : Node
{
    public required Expr Target;       // NameExpr or TupleExpr of NameExpr
    public required Expr Iterable;
    public Expr? Filter;               // {% for x in xs if cond %}
    public required List<Node> Body;
    public List<Node>? Else;
}

internal sealed class SetNode : Node
{
    public required Expr Target;       // NameExpr, TupleExpr of NameExpr, or AttrExpr on a namespace
    public Expr? Value;
    public List<Node>? Body;           // block set
    public List<FilterCall>? BodyFilters;
}

internal sealed class MacroNode : Node
{
    public required string Name;
    public required List<MacroParam> Params;
    public required List<Node> Body;
}

internal sealed record MacroParam(string Name, Expr? Default);

internal sealed class CallBlockNode : Node
{
    public required CallExpr Call;
    public required List<MacroParam> CallerParams;
    public required List<Node> Body;
}

internal sealed class FilterBlockNode : Node
{
    public required List<FilterCall> Filters;
    public required List<Node> Body;
}

internal sealed class BreakNode : Node { }

internal sealed class ContinueNode : Node { }

// ---- expressions ----

internal abstract class Expr : Node { }

internal sealed class ConstExpr(object? value) : Expr
{
    public readonly object? Value = value;
}

internal sealed class NameExpr(string name) : Expr
{
    public readonly string Name = name;
}

internal sealed class ListExpr(List<Expr> items) : Expr
{
    public readonly List<Expr> Items = items;
}

internal sealed class TupleExpr(List<Expr> items) : Expr
{
    public readonly List<Expr> Items = items;
}

internal sealed class DictExpr(List<(Expr Key, Expr Value)> items) : Expr
{
    public readonly List<(Expr Key, Expr Value)> Items = items;
}

internal sealed class AttrExpr(Expr obj, string name) : Expr
{
    public readonly Expr Object = obj;
    public readonly string Name = name;
}

internal sealed class ItemExpr(Expr obj, Expr index) : Expr
{
    public readonly Expr Object = obj;
    public readonly Expr Index = index;
}

internal sealed class SliceExpr(Expr obj, Expr? start, Expr? stop, Expr? step) : Expr
{
    public readonly Expr Object = obj;
    public readonly Expr? Start = start;
    public readonly Expr? Stop = stop;
    public readonly Expr? Step = step;
}

internal sealed class ArgList
{
    public readonly List<Expr> Positional = new();
    public readonly List<(string Name, Expr Value)> Keyword = new();
    public Expr? StarArgs;
    public Expr? StarKwargs;
    public static readonly ArgList Empty = new();
}

internal sealed class CallExpr(Expr callee, ArgList args) : Expr
{
    public readonly Expr Callee = callee;
    public readonly ArgList Args = args;
}

internal sealed record FilterCall(string Name, ArgList Args, int Line, int Column);

internal sealed class FilterExpr(Expr operand, FilterCall filter) : Expr
{
    public readonly Expr Operand = operand;
    public readonly FilterCall Filter = filter;
}

internal sealed class TestExpr(Expr operand, string name, ArgList args, bool negate) : Expr
{
    public readonly Expr Operand = operand;
    public readonly string Name = name;
    public readonly ArgList Args = args;
    public readonly bool Negate = negate;
}

internal sealed class UnaryExpr(string op, Expr operand) : Expr
{
    public readonly string Op = op;   // "-", "+", "not"
    public readonly Expr Operand = operand;
}

internal sealed class BinaryExpr(string op, Expr left, Expr right) : Expr
{
    public readonly string Op = op;   // arithmetic, comparison, "in", "not in", "and", "or", "~"
    public readonly Expr Left = left;
    public readonly Expr Right = right;
}

internal sealed class CondExpr(Expr test, Expr then, Expr? otherwise) : Expr
{
    public readonly Expr Test = test;
    public readonly Expr Then = then;
    public readonly Expr? Else = otherwise;
}
