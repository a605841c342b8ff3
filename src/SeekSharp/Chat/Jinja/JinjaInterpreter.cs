using System.Runtime.CompilerServices;
using System.Text;

namespace SeekSharp.Chat.Jinja;

internal sealed class Scope
{
    public readonly Scope? Parent;
    private readonly Dictionary<string, object?> _vars = new(StringComparer.Ordinal);

    public Scope(Scope? parent) => Parent = parent;

    public bool TryGet(string name, out object? value)
    {
        for (var s = this; s != null; s = s.Parent)
            if (s._vars.TryGetValue(name, out value)) return true;
        value = null;
        return false;
    }

    public void Set(string name, object? value) => _vars[name] = value;
}

internal sealed class MacroValue(MacroNode node, Scope closure) : Callable
{
    public readonly MacroNode Node = node;
    public readonly Scope Closure = closure;
    public override string Name => Node.Name;

    public override object? Invoke(JinjaInterpreter interp, Args args) => interp.CallMacro(Node.Params, Node.Body, Closure, args, null, Node.Name);
}

internal sealed class CallerValue(CallBlockNode node, Scope closure) : Callable
{
    public override string Name => "caller";
    public override object? Invoke(JinjaInterpreter interp, Args args) => interp.CallMacro(node.CallerParams, node.Body, closure, args, null, "caller");
}

/// <summary>Tree-walking evaluator. One instance per render: it carries the step, loop and depth budgets.</summary>
internal sealed partial class JinjaInterpreter
{
    private enum Flow { Normal, Break, Continue }

    private readonly TemplateLimits _limits;
    private long _steps;
    private long _loopIterations;
    private int _callDepth;
    internal readonly DateTimeOffset? Now;

    public JinjaInterpreter(TemplateLimits limits, DateTimeOffset? now)
    {
        _limits = limits;
        Now = now;
    }

    public TemplateLimits Limits => _limits;

    public string Run(List<Node> program, Scope globals)
    {
        var sb = new StringBuilder();
        Render(program, new Scope(globals), sb);
        return sb.ToString();
    }

    // ------------------------------------------------------------------ budgets

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private void Step()
    {
        if (++_steps > _limits.MaxSteps) StepLimit();
    }

    /// <summary>Charges work proportional to data size (one step per 64 characters or elements).</summary>
    public void Charge(long amount)
    {
        _steps += amount >> 6;
        if (_steps > _limits.MaxSteps) StepLimit();
    }

    private void StepLimit() =>
        throw new TemplateException(TemplateErrorKind.LimitExceeded, $"template exceeded the limit of {_limits.MaxSteps} evaluation steps");

    private void CountIteration()
    {
        if (++_loopIterations > _limits.MaxLoopIterations)
            throw new TemplateException(TemplateErrorKind.LimitExceeded, $"template exceeded the limit of {_limits.MaxLoopIterations} loop iterations");
        Step();
    }

    /// <summary>Every string and list the template builds passes through here so no value can outgrow the output limit.</summary>
    public string CheckSize(string s)
    {
        if (s.Length > _limits.MaxOutputChars) SizeLimit();
        Charge(s.Length);
        return s;
    }

    public void CheckCount(long count)
    {
        if (count > _limits.MaxOutputChars) SizeLimit();
        Charge(count);
    }

    private void SizeLimit() =>
        throw new TemplateException(TemplateErrorKind.LimitExceeded, $"template output or a value built by it exceeds {_limits.MaxOutputChars} characters");

    private void Append(StringBuilder sb, string s)
    {
        if (sb.Length + (long)s.Length > _limits.MaxOutputChars) SizeLimit();
        Charge(s.Length);
        sb.Append(s);
    }

    private static void EnsureStack()
    {
        if (!RuntimeHelpers.TryEnsureSufficientExecutionStack())
            throw new TemplateException(TemplateErrorKind.LimitExceeded, "template recursion is too deep");
    }

    // ------------------------------------------------------------------ statements

    private Flow Render(List<Node> nodes, Scope scope, StringBuilder sb)
    {
        foreach (var node in nodes)
        {
            Step();
            var flow = RenderNode(node, scope, sb);
            if (flow != Flow.Normal) return flow;
        }
        return Flow.Normal;
    }

    private Flow RenderNode(Node node, Scope scope, StringBuilder sb)
    {
        try
        {
            switch (node)
            {
                case TextNode t:
                    Append(sb, t.Text);
                    return Flow.Normal;
                case OutputNode o:
                    Append(sb, JinjaValues.ToStr(Eval(o.Expr, scope)));
                    return Flow.Normal;
                case IfNode n:
                    foreach (var (test, body) in n.Branches)
                        if (JinjaValues.IsTruthy(Eval(test, scope))) return Render(body, scope, sb);
                    return n.Else != null ? Render(n.Else, scope, sb) : Flow.Normal;
                case ForNode f:
                    RenderFor(f, scope, sb);
                    return Flow.Normal;
                case SetNode s:
                {
                    object? value;
                    if (s.Value != null) value = Eval(s.Value, scope);
                    else
                    {
                        var inner = new StringBuilder();
                        Render(s.Body!, scope, inner);
                        value = inner.ToString();
                        if (s.BodyFilters != null)
                            foreach (var fc in s.BodyFilters) value = ApplyFilter(fc, value, scope);
                    }
                    Assign(s.Target, value, scope);
                    return Flow.Normal;
                }
                case MacroNode m:
                    scope.Set(m.Name, new MacroValue(m, scope));
                    return Flow.Normal;
                case CallBlockNode c:
                {
                    var callee = Eval(c.Call.Callee, scope);
                    var args = EvalArgs(c.Call.Args, scope);
                    var caller = new CallerValue(c, scope);
                    object? result = callee switch
                    {
                        MacroValue mv => CallMacro(mv.Node.Params, mv.Node.Body, mv.Closure, args, caller, mv.Name),
                        _ => throw JinjaValues.Error($"'{JinjaValues.TypeName(callee)}' object cannot be used in a call block"),
                    };
                    Append(sb, JinjaValues.ToStr(result));
                    return Flow.Normal;
                }
                case FilterBlockNode fb:
                {
                    var inner = new StringBuilder();
                    Render(fb.Body, scope, inner);
                    object? value = inner.ToString();
                    foreach (var fc in fb.Filters) value = ApplyFilter(fc, value, scope);
                    Append(sb, JinjaValues.ToStr(value));
                    return Flow.Normal;
                }
                case BreakNode:
                    return Flow.Break;
                case ContinueNode:
                    return Flow.Continue;
                default:
                    throw JinjaValues.Error($"unsupported node {node.GetType().Name}");
            }
        }
        catch (TemplateException ex) when (ex.Line == 0)
        {
            throw ex.WithPosition(node.Line, node.Column);
        }
    }

    private void RenderFor(ForNode f, Scope scope, StringBuilder sb)
    {
        var source = Eval(f.Iterable, scope);
        var items = Materialize(source);
        var loopScope = new Scope(scope);
        if (f.Filter != null)
        {
            var kept = new List<object?>();
            foreach (var item in items)
            {
                CountIteration();
                Assign(f.Target, item, loopScope);
                if (JinjaValues.IsTruthy(Eval(f.Filter, loopScope))) kept.Add(item);
            }
            items = kept;
        }
        if (items.Count == 0)
        {
            if (f.Else != null) Render(f.Else, scope, sb);
            return;
        }
        var loop = new LoopValue { Length = items.Count };
        loopScope.Set("loop", loop);
        for (int i = 0; i < items.Count; i++)
        {
            CountIteration();
            loop.Index0 = i;
            loop.Previous = i > 0 ? items[i - 1] : Undefined.Instance;
            loop.Nextitem = i + 1 < items.Count ? items[i + 1] : Undefined.Instance;
            Assign(f.Target, items[i], loopScope);
            if (Render(f.Body, loopScope, sb) == Flow.Break) break;
        }
    }

    /// <summary>Snapshot of what a for loop or filter iterates: list items, dict keys, string characters.</summary>
    public List<object?> Materialize(object? v)
    {
        switch (v)
        {
            case ListValue l: return new List<object?>(l.Items);
            case NamespaceValue: throw JinjaValues.Error("'Namespace' object is not iterable");
            case DictValue d:
            {
                var keys = new List<object?>(d.Map.Count);
                foreach (var k in d.Map.Keys) keys.Add(k);
                return keys;
            }
            case string s:
            {
                var chars = new List<object?>(s.Length);
                foreach (var r in s.EnumerateRunes()) chars.Add(r.ToString());
                return chars;
            }
            case Undefined: return new List<object?>();
            default: throw JinjaValues.Error($"'{JinjaValues.TypeName(v)}' object is not iterable");
        }
    }

    private void Assign(Expr target, object? value, Scope scope)
    {
        switch (target)
        {
            case NameExpr n:
                scope.Set(n.Name, value);
                return;
            case TupleExpr t:
            {
                var items = Materialize(value);
                if (items.Count != t.Items.Count)
                    throw JinjaValues.Error(items.Count < t.Items.Count
                        ? $"not enough values to unpack (expected {t.Items.Count}, got {items.Count})"
                        : $"too many values to unpack (expected {t.Items.Count})");
                for (int i = 0; i < items.Count; i++) Assign(t.Items[i], items[i], scope);
                return;
            }
            case AttrExpr a:
            {
                var obj = Eval(a.Object, scope);
                if (obj is not NamespaceValue ns) throw JinjaValues.Error("cannot assign attribute on non-namespace object");
                ns.Map[a.Name] = value;
                return;
            }
            default:
                throw JinjaValues.Error("invalid assignment target");
        }
    }

    internal object? CallMacro(List<MacroParam> parameters, List<Node> body, Scope closure, Args args, Callable? caller, string name)
    {
        if (++_callDepth > _limits.MaxRecursionDepth)
        {
            _callDepth--;
            throw new TemplateException(TemplateErrorKind.LimitExceeded, $"macro calls nested deeper than {_limits.MaxRecursionDepth} (in '{name}')");
        }
        EnsureStack();
        try
        {
            var s = new Scope(closure);
            var bound = new bool[parameters.Count];
            for (int i = 0; i < parameters.Count && i < args.Positional.Count; i++)
            {
                s.Set(parameters[i].Name, args.Positional[i]);
                bound[i] = true;
            }
            var varargs = new List<object?>();
            for (int i = parameters.Count; i < args.Positional.Count; i++) varargs.Add(args.Positional[i]);
            var kwargs = new DictValue();
            if (args.Keyword != null)
            {
                foreach (var kv in args.Keyword)
                {
                    int idx = parameters.FindIndex(p => p.Name == kv.Key);
                    if (idx < 0) { kwargs.Map[kv.Key] = kv.Value; continue; }
                    if (bound[idx]) throw JinjaValues.Error($"macro '{name}' got multiple values for argument '{kv.Key}'");
                    s.Set(kv.Key, kv.Value);
                    bound[idx] = true;
                }
            }
            for (int i = 0; i < parameters.Count; i++)
                if (!bound[i])
                    s.Set(parameters[i].Name, parameters[i].Default != null ? Eval(parameters[i].Default!, s) : new Undefined(parameters[i].Name));
            s.Set("varargs", new ListValue(varargs));
            s.Set("kwargs", kwargs);
            if (caller != null) s.Set("caller", caller);
            var sb = new StringBuilder();
            Render(body, s, sb);
            return sb.ToString();
        }
        finally
        {
            _callDepth--;
        }
    }

    // ------------------------------------------------------------------ expressions

    public object? Eval(Expr e, Scope scope)
    {
        Step();
        EnsureStack();
        try
        {
            return EvalCore(e, scope);
        }
        catch (TemplateException ex) when (ex.Line == 0)
        {
            throw ex.WithPosition(e.Line, e.Column);
        }
        catch (Exception ex) when (ex is OverflowException or DivideByZeroException or ArgumentException or FormatException or InvalidOperationException)
        {
            throw new TemplateException(TemplateErrorKind.Runtime, ex is OverflowException ? "integer overflow" : ex.Message, e.Line, e.Column);
        }
    }

    private object? EvalCore(Expr e, Scope scope)
    {
        switch (e)
        {
            case ConstExpr c:
                return c.Value;
            case NameExpr n:
                return scope.TryGet(n.Name, out var v) ? v : new Undefined(n.Name);
            case ListExpr l:
            {
                var items = new List<object?>(l.Items.Count);
                foreach (var item in l.Items) items.Add(Eval(item, scope));
                return new ListValue(items);
            }
            case TupleExpr t:
            {
                var items = new List<object?>(t.Items.Count);
                foreach (var item in t.Items) items.Add(Eval(item, scope));
                return new ListValue(items, isTuple: true);
            }
            case DictExpr d:
            {
                var dict = new DictValue(d.Items.Count);
                foreach (var (ke, ve) in d.Items)
                {
                    var key = Eval(ke, scope);
                    if (key is not string ks) throw JinjaValues.Error($"dict keys must be strings, got {JinjaValues.TypeName(key)}");
                    dict.Map[ks] = Eval(ve, scope);
                }
                return dict;
            }
            case AttrExpr a:
                return GetAttr(Eval(a.Object, scope), a.Name);
            case ItemExpr it:
                return GetItem(Eval(it.Object, scope), Eval(it.Index, scope));
            case SliceExpr sl:
                return Slice(Eval(sl.Object, scope),
                    sl.Start != null ? Eval(sl.Start, scope) : null,
                    sl.Stop != null ? Eval(sl.Stop, scope) : null,
                    sl.Step != null ? Eval(sl.Step, scope) : null);
            case CallExpr call:
            {
                var callee = Eval(call.Callee, scope);
                var args = EvalArgs(call.Args, scope);
                return callee switch
                {
                    Callable fn => fn.Invoke(this, args),
                    Undefined u => throw JinjaValues.Error(u.Name != null ? $"'{u.Name}' is undefined" : "called an undefined value"),
                    _ => throw JinjaValues.Error($"'{JinjaValues.TypeName(callee)}' object is not callable"),
                };
            }
            case FilterExpr f:
                return ApplyFilter(f.Filter, Eval(f.Operand, scope), scope);
            case TestExpr t:
            {
                var value = Eval(t.Operand, scope);
                bool result = ApplyTest(t.Name, value, EvalArgs(t.Args, scope));
                return t.Negate ? !result : result;
            }
            case UnaryExpr u:
            {
                var value = Eval(u.Operand, scope);
                return u.Op switch
                {
                    "not" => !JinjaValues.IsTruthy(value),
                    "-" => value switch
                    {
                        long l => (object)checked(-l),
                        double dd => -dd,
                        bool b => b ? -1L : 0L,
                        _ => throw OperandError("-", value),
                    },
                    _ => value switch
                    {
                        long or double => value,
                        bool b => (object)(b ? 1L : 0L),
                        _ => throw OperandError("+", value),
                    },
                };
            }
            case BinaryExpr b:
                return EvalBinary(b, scope);
            case CondExpr c:
                return JinjaValues.IsTruthy(Eval(c.Test, scope)) ? Eval(c.Then, scope)
                    : c.Else != null ? Eval(c.Else, scope) : new Undefined(null);
            default:
                throw JinjaValues.Error($"unsupported expression {e.GetType().Name}");
        }
    }

    private static TemplateException OperandError(string op, object? value) =>
        value is Undefined u && u.Name != null
            ? JinjaValues.Error($"'{u.Name}' is undefined")
            : JinjaValues.Error($"bad operand type for unary {op}: '{JinjaValues.TypeName(value)}'");

    public Args EvalArgs(ArgList list, Scope scope)
    {
        if (ReferenceEquals(list, ArgList.Empty)) return new Args(new List<object?>(), null);
        var pos = new List<object?>(list.Positional.Count);
        foreach (var p in list.Positional) pos.Add(Eval(p, scope));
        if (list.StarArgs != null) pos.AddRange(Materialize(Eval(list.StarArgs, scope)));
        List<KeyValuePair<string, object?>>? kw = null;
        if (list.Keyword.Count > 0 || list.StarKwargs != null)
        {
            kw = new List<KeyValuePair<string, object?>>();
            foreach (var (name, value) in list.Keyword)
            {
                if (kw.Exists(k => k.Key == name)) throw JinjaValues.Error($"got multiple values for keyword argument '{name}'");
                kw.Add(new(name, Eval(value, scope)));
            }
            if (list.StarKwargs != null)
            {
                if (Eval(list.StarKwargs, scope) is not DictValue d || d is NamespaceValue)
                    throw JinjaValues.Error("argument after ** must be a mapping");
                foreach (var kv in d.Map) kw.Add(new(kv.Key, kv.Value));
            }
        }
        return new Args(pos, kw);
    }

    private object? EvalBinary(BinaryExpr b, Scope scope)
    {
        if (b.Op == "and")
        {
            var l = Eval(b.Left, scope);
            return JinjaValues.IsTruthy(l) ? Eval(b.Right, scope) : l;
        }
        if (b.Op == "or")
        {
            var l = Eval(b.Left, scope);
            return JinjaValues.IsTruthy(l) ? l : Eval(b.Right, scope);
        }
        var left = Eval(b.Left, scope);
        var right = Eval(b.Right, scope);
        switch (b.Op)
        {
            case "==": return JinjaValues.Equals(left, right);
            case "!=": return !JinjaValues.Equals(left, right);
            case "<": return JinjaValues.Compare(RequireDefined(left), RequireDefined(right)) < 0;
            case ">": return JinjaValues.Compare(RequireDefined(left), RequireDefined(right)) > 0;
            case "<=": return JinjaValues.Compare(RequireDefined(left), RequireDefined(right)) <= 0;
            case ">=": return JinjaValues.Compare(RequireDefined(left), RequireDefined(right)) >= 0;
            case "in": return Contains(right, left);
            case "not in": return !Contains(right, left);
            case "~": return CheckSize(string.Concat(JinjaValues.ToStr(left), JinjaValues.ToStr(right)));
            default: return Arithmetic(b.Op, left, right);
        }
    }

    private static object? RequireDefined(object? v) =>
        v is Undefined u ? throw JinjaValues.Error(u.Name != null ? $"'{u.Name}' is undefined" : "operation on an undefined value") : v;

    public bool Contains(object? container, object? item)
    {
        switch (container)
        {
            case string s:
                if (item is not string sub) throw JinjaValues.Error($"'in <string>' requires string as left operand, not {JinjaValues.TypeName(item)}");
                return s.Contains(sub, StringComparison.Ordinal);
            case ListValue l:
                Charge(l.Items.Count);
                foreach (var x in l.Items)
                    if (JinjaValues.Equals(x, item)) return true;
                return false;
            case DictValue d:
                return item is string k && d.Map.ContainsKey(k);
            case Undefined:
                return false;
            default:
                throw JinjaValues.Error($"argument of type '{JinjaValues.TypeName(container)}' is not iterable");
        }
    }

    private object? Arithmetic(string op, object? a, object? b)
    {
        RequireDefined(a);
        RequireDefined(b);
        if (JinjaValues.IsNumber(a) && JinjaValues.IsNumber(b))
        {
            if (a is not double && b is not double)
            {
                long x = a is bool ba ? (ba ? 1 : 0) : (long)a!;
                long y = b is bool bb ? (bb ? 1 : 0) : (long)b!;
                switch (op)
                {
                    case "+": return checked(x + y);
                    case "-": return checked(x - y);
                    case "*": return checked(x * y);
                    case "/":
                        if (y == 0) throw JinjaValues.Error("division by zero");
                        return (double)x / y;
                    case "//":
                    {
                        if (y == 0) throw JinjaValues.Error("integer division or modulo by zero");
                        long q = x / y;
                        if ((x % y != 0) && ((x < 0) != (y < 0))) q--;
                        return q;
                    }
                    case "%":
                    {
                        if (y == 0) throw JinjaValues.Error("integer division or modulo by zero");
                        long r = x % y;
                        if (r != 0 && ((r < 0) != (y < 0))) r += y;
                        return r;
                    }
                    case "**":
                    {
                        if (y < 0) return Math.Pow(x, y);
                        if (x is 0 or 1) return y == 0 ? 1L : x;
                        if (x == -1) return y % 2 == 0 ? 1L : -1L;
                        long result = 1;
                        for (long i = 0; i < y; i++) result = checked(result * x); // |x| >= 2 overflows within 64 steps
                        return result;
                    }
                }
            }
            else
            {
                double x = JinjaValues.ToDouble(a), y = JinjaValues.ToDouble(b);
                switch (op)
                {
                    case "+": return x + y;
                    case "-": return x - y;
                    case "*": return x * y;
                    case "/":
                        if (y == 0) throw JinjaValues.Error("float division by zero");
                        return x / y;
                    case "//":
                        if (y == 0) throw JinjaValues.Error("float floor division by zero");
                        return Math.Floor(x / y);
                    case "%":
                    {
                        if (y == 0) throw JinjaValues.Error("float modulo");
                        double r = x % y;
                        if (r != 0 && ((r < 0) != (y < 0))) r += y;
                        return r;
                    }
                    case "**": return Math.Pow(x, y);
                }
            }
        }
        switch (op)
        {
            case "+" when a is string sa && b is string sb:
                if ((long)sa.Length + sb.Length > _limits.MaxOutputChars) SizeLimit();
                return CheckSize(string.Concat(sa, sb));
            case "+" when a is ListValue la && b is ListValue lb:
            {
                CheckCount((long)la.Items.Count + lb.Items.Count);
                var items = new List<object?>(la.Items.Count + lb.Items.Count);
                items.AddRange(la.Items);
                items.AddRange(lb.Items);
                return new ListValue(items, la.IsTuple && lb.IsTuple);
            }
            case "*" when a is string s && b is long or bool:
                return Repeat(s, b);
            case "*" when b is string s2 && a is long or bool:
                return Repeat(s2, a);
            case "*" when a is ListValue l && b is long or bool:
                return RepeatList(l, b);
            case "*" when b is ListValue l2 && a is long or bool:
                return RepeatList(l2, a);
        }
        throw JinjaValues.Error($"unsupported operand type(s) for {op}: '{JinjaValues.TypeName(a)}' and '{JinjaValues.TypeName(b)}'");
    }

    private string Repeat(string s, object? n)
    {
        long count = n is bool bb ? (bb ? 1 : 0) : (long)n!;
        if (count <= 0 || s.Length == 0) return "";
        if ((double)s.Length * count > _limits.MaxOutputChars) SizeLimit();
        var sb = new StringBuilder(s.Length * (int)count);
        for (long i = 0; i < count; i++) sb.Append(s);
        return CheckSize(sb.ToString());
    }

    private ListValue RepeatList(ListValue l, object? n)
    {
        long count = n is bool bb ? (bb ? 1 : 0) : (long)n!;
        if (count <= 0) return new ListValue(new List<object?>(), l.IsTuple);
        if ((double)l.Items.Count * count > _limits.MaxOutputChars) SizeLimit();
        var items = new List<object?>();
        for (long i = 0; i < count; i++) items.AddRange(l.Items);
        Charge(items.Count);
        return new ListValue(items, l.IsTuple);
    }

    // ------------------------------------------------------------------ attribute / item access

    public object? GetAttr(object? obj, string name)
    {
        switch (obj)
        {
            case NamespaceValue ns:
                return ns.Map.TryGetValue(name, out var nv) ? nv : new Undefined(name);
            case DictValue d:
                // Jinja tries Python attributes first for dot access, so d.items is the method even if a key "items" exists.
                var method = JinjaBuiltins.DictMethod(d, name);
                if (method != null) return method;
                return d.Map.TryGetValue(name, out var dv) ? dv : new Undefined(name);
            case string s:
                return JinjaBuiltins.StringMethod(s, name) ?? (object)new Undefined(name);
            case ListValue l:
                return JinjaBuiltins.ListMethod(l, name) ?? (object)new Undefined(name);
            case LoopValue loop:
                return LoopAttr(loop, name);
            default:
                // Jinja returns Undefined for missing attributes, including attributes of None and of undefined values.
                return new Undefined(name);
        }
    }

    private static object? LoopAttr(LoopValue loop, string name) => name switch
    {
        "index" => loop.Index0 + 1,
        "index0" => loop.Index0,
        "revindex" => loop.Length - loop.Index0,
        "revindex0" => loop.Length - loop.Index0 - 1,
        "first" => loop.Index0 == 0,
        "last" => loop.Index0 == loop.Length - 1,
        "length" => loop.Length,
        "previtem" => loop.Previous,
        "nextitem" => loop.Nextitem,
        "depth" => 1L,
        "depth0" => 0L,
        "cycle" => new BuiltinFunction("cycle", (_, args) =>
            args.Count == 0 ? throw JinjaValues.Error("no items for cycling given") : args.Positional[(int)(loop.Index0 % args.Count)]),
        _ => new Undefined(name),
    };

    public object? GetItem(object? obj, object? key)
    {
        switch (obj)
        {
            case NamespaceValue ns:
                return key is string nk && ns.Map.TryGetValue(nk, out var nv) ? nv : new Undefined(key as string);
            case DictValue d:
                if (key is string k)
                {
                    if (d.Map.TryGetValue(k, out var dv)) return dv;
                    return JinjaBuiltins.DictMethod(d, k) ?? (object)new Undefined(k);
                }
                return new Undefined(null);
            case ListValue l:
                if (key is long or bool)
                {
                    long i = key is bool b ? (b ? 1 : 0) : (long)key;
                    if (i < 0) i += l.Items.Count;
                    return i >= 0 && i < l.Items.Count ? l.Items[(int)i] : new Undefined(null);
                }
                return key is string ln ? GetAttr(l, ln) : new Undefined(null);
            case string s:
                if (key is long or bool)
                {
                    long i = key is bool b ? (b ? 1 : 0) : (long)key;
                    if (!HasSurrogates(s))
                    {
                        if (i < 0) i += s.Length;
                        return i >= 0 && i < s.Length ? s[(int)i].ToString() : new Undefined(null);
                    }
                    var runes = Materialize(s);
                    if (i < 0) i += runes.Count;
                    return i >= 0 && i < runes.Count ? runes[(int)i] : new Undefined(null);
                }
                return key is string sn ? GetAttr(s, sn) : new Undefined(null);
            case LoopValue loop when key is string ls:
                return LoopAttr(loop, ls);
            default:
                return new Undefined(key as string);
        }
    }

    public static bool HasSurrogates(string s)
    {
        foreach (char c in s)
            if (char.IsSurrogate(c)) return true;
        return false;
    }

    private object? Slice(object? obj, object? start, object? stop, object? step)
    {
        long? Index(object? v, string what) => v switch
        {
            null => null,
            Undefined => null,
            long l => l,
            bool b => b ? 1 : 0,
            _ => throw JinjaValues.Error($"slice {what} must be an integer or None"),
        };
        long st = Index(step, "step") ?? 1;
        if (st == 0) throw JinjaValues.Error("slice step cannot be zero");
        List<object?> items = obj switch
        {
            ListValue l => l.Items,
            string s => Materialize(s),
            Undefined => new List<object?>(),
            _ => throw JinjaValues.Error($"'{JinjaValues.TypeName(obj)}' object is not subscriptable"),
        };
        int n = items.Count;
        long lo, hi;
        long? a = Index(start, "start"), z = Index(stop, "stop");
        if (st > 0)
        {
            lo = a is null ? 0 : a < 0 ? Math.Max(0, a.Value + n) : Math.Min(a.Value, n);
            hi = z is null ? n : z < 0 ? Math.Max(0, z.Value + n) : Math.Min(z.Value, n);
        }
        else
        {
            lo = a is null ? n - 1 : a < 0 ? Math.Max(-1, a.Value + n) : Math.Min(a.Value, n - 1);
            hi = z is null ? -1 : z < 0 ? Math.Max(-1, z.Value + n) : Math.Min(z.Value, n - 1);
        }
        var result = new List<object?>();
        for (long i = lo; st > 0 ? i < hi : i > hi; i += st) result.Add(items[(int)i]);
        Charge(result.Count);
        if (obj is string)
        {
            var sb = new StringBuilder();
            foreach (var r in result) sb.Append((string)r!);
            return sb.ToString();
        }
        return new ListValue(result, obj is ListValue { IsTuple: true });
    }
}
