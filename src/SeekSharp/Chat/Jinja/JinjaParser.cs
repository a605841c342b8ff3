using System.Globalization;
using System.Runtime.CompilerServices;

namespace SeekSharp.Chat.Jinja;

/// <summary>
/// Recursive-descent parser for the Jinja subset used by chat templates. The expression grammar follows Jinja2's own
/// precedence (ternary, or, and, not, comparisons/in, + -, ~, * / // %, **, unary sign, then postfix access, filters
/// and tests).
/// </summary>
internal sealed class JinjaParser
{
    private const int MaxNesting = 200;

    private readonly List<Token> _tokens;
    private int _pos;
    private int _depth;

    private JinjaParser(List<Token> tokens) => _tokens = tokens;

    public static List<Node> Parse(string source)
    {
        var parser = new JinjaParser(JinjaLexer.Tokenize(source));
        var body = parser.ParseBody(out string? stop);
        if (stop != null)
            throw parser.Error($"unexpected '{{% {stop} %}}' with no matching opening block", parser._tokens[parser._pos - 1]);
        return body;
    }

    private Token Peek => _tokens[_pos];
    private Token PeekAt(int k) => _tokens[Math.Min(_pos + k, _tokens.Count - 1)];
    private Token Next() => _tokens[_pos++];

    private TemplateException Error(string message, Token at) =>
        new(TemplateErrorKind.Syntax, message, at.Line, at.Column);

    private static T At<T>(T node, Token t) where T : Node
    {
        node.Line = t.Line;
        node.Column = t.Column;
        return node;
    }

    private void Enter()
    {
        // Deeply nested input must fail cleanly instead of overflowing the stack.
        if (++_depth > MaxNesting || !RuntimeHelpers.TryEnsureSufficientExecutionStack())
            throw Error($"template nesting is deeper than {MaxNesting} levels", Peek);
    }

    private void Leave() => _depth--;

    private Token Expect(TokenKind kind, string what)
    {
        var t = Peek;
        if (t.Kind != kind) throw Error($"expected {what}, got {t.Describe()}", t);
        _pos++;
        return t;
    }

    private void ExpectOp(string op)
    {
        var t = Peek;
        if (!t.IsOp(op)) throw Error($"expected '{op}', got {t.Describe()}", t);
        _pos++;
    }

    private string ExpectName()
    {
        var t = Peek;
        if (t.Kind != TokenKind.Name) throw Error($"expected a name, got {t.Describe()}", t);
        _pos++;
        return t.Value;
    }

    private void ExpectBlockEnd() => Expect(TokenKind.BlockEnd, "'%}'");

    // ------------------------------------------------------------------ statements

    /// <summary>
    /// Parses nodes until end of input or a block tag whose keyword is in <paramref name="stopAt"/>; on a stop the
    /// tokens '{%' and the keyword are consumed and the keyword is returned in <paramref name="stop"/>.
    /// </summary>
    private List<Node> ParseBody(out string? stop, params string[] stopAt)
    {
        Enter();
        var nodes = new List<Node>();
        stop = null;
        while (true)
        {
            var t = Peek;
            switch (t.Kind)
            {
                case TokenKind.Eof:
                    if (stopAt.Length > 0)
                        throw Error($"unexpected end of template, expected {string.Join(" or ", stopAt.Select(s => $"'{{% {s} %}}'"))}", t);
                    Leave();
                    return nodes;
                case TokenKind.Text:
                    _pos++;
                    nodes.Add(At(new TextNode(t.Value), t));
                    break;
                case TokenKind.VarBegin:
                {
                    _pos++;
                    var e = ParseTuple(allowCond: true);
                    Expect(TokenKind.VarEnd, "'}}'");
                    nodes.Add(At(new OutputNode(e), t));
                    break;
                }
                case TokenKind.BlockBegin:
                {
                    var kw = PeekAt(1);
                    if (kw.Kind != TokenKind.Name) throw Error($"expected a statement name, got {kw.Describe()}", kw);
                    if (Array.IndexOf(stopAt, kw.Value) >= 0)
                    {
                        _pos += 2;
                        stop = kw.Value;
                        Leave();
                        return nodes;
                    }
                    if (kw.Value.StartsWith("end", StringComparison.Ordinal) || kw.Value is "else" or "elif")
                    {
                        if (stopAt.Length == 0)
                        {
                            _pos += 2;
                            stop = kw.Value;
                            Leave();
                            return nodes;
                        }
                        throw Error($"unexpected '{{% {kw.Value} %}}', expected {string.Join(" or ", stopAt.Select(s => $"'{{% {s} %}}'"))}", kw);
                    }
                    _pos += 2;
                    var node = ParseStatement(kw);
                    if (node != null) nodes.Add(node);
                    break;
                }
                default:
                    throw Error($"unexpected {t.Describe()}", t);
            }
        }
    }

    private Node? ParseStatement(Token kw)
    {
        switch (kw.Value)
        {
            case "if": return ParseIf(kw);
            case "for": return ParseFor(kw);
            case "set": return ParseSet(kw);
            case "macro": return ParseMacro(kw);
            case "call": return ParseCallBlock(kw);
            case "filter": return ParseFilterBlock(kw);
            case "break": ExpectBlockEnd(); return At(new BreakNode(), kw);
            case "continue": ExpectBlockEnd(); return At(new ContinueNode(), kw);
            case "generation":
                // transformers' assistant-mask marker: renders nothing.
                ExpectBlockEnd();
                return null;
            default:
                throw Error($"unknown statement '{kw.Value}'", kw);
        }
    }

    private IfNode ParseIf(Token kw)
    {
        var node = At(new IfNode(), kw);
        var test = ParseTuple(allowCond: true);
        ExpectBlockEnd();
        while (true)
        {
            var body = ParseBody(out string? stop, "elif", "else", "endif");
            node.Branches.Add((test, body));
            if (stop == "elif")
            {
                test = ParseTuple(allowCond: true);
                ExpectBlockEnd();
                continue;
            }
            if (stop == "else")
            {
                ExpectBlockEnd();
                node.Else = ParseBody(out _, "endif");
            }
            ExpectBlockEnd();
            return node;
        }
    }

    private ForNode ParseFor(Token kw)
    {
        var target = ParseAssignTarget(allowNamespace: false);
        if (!Peek.IsName("in")) throw Error($"expected 'in' after the loop variable, got {Peek.Describe()}", Peek);
        _pos++;
        var iterable = ParseTuple(allowCond: false);
        Expr? filter = null;
        if (Peek.IsName("if"))
        {
            _pos++;
            filter = ParseExpression(allowCond: true);
        }
        if (Peek.IsName("recursive")) throw Error("recursive loops are not supported", Peek);
        ExpectBlockEnd();
        var body = ParseBody(out string? stop, "else", "endfor");
        List<Node>? otherwise = null;
        if (stop == "else")
        {
            ExpectBlockEnd();
            otherwise = ParseBody(out _, "endfor");
        }
        ExpectBlockEnd();
        return At(new ForNode { Target = target, Iterable = iterable, Filter = filter, Body = body, Else = otherwise }, kw);
    }

    private SetNode ParseSet(Token kw)
    {
        var target = ParseAssignTarget(allowNamespace: true);
        if (Peek.IsOp("="))
        {
            _pos++;
            var value = ParseTuple(allowCond: true);
            ExpectBlockEnd();
            return At(new SetNode { Target = target, Value = value }, kw);
        }
        List<FilterCall>? filters = null;
        while (Peek.IsOp("|"))
        {
            _pos++;
            (filters ??= new()).Add(ParseFilterCall());
        }
        ExpectBlockEnd();
        var body = ParseBody(out _, "endset");
        ExpectBlockEnd();
        return At(new SetNode { Target = target, Body = body, BodyFilters = filters }, kw);
    }

    private Expr ParseAssignTarget(bool allowNamespace)
    {
        var first = Peek;
        var items = new List<Expr>();
        do
        {
            var t = Peek;
            string name = ExpectName();
            Expr target = At(new NameExpr(name), t);
            if (allowNamespace && Peek.IsOp("."))
            {
                _pos++;
                var attrTok = Peek;
                target = At(new AttrExpr(target, ExpectName()), attrTok);
            }
            items.Add(target);
            if (!Peek.IsOp(",")) break;
            _pos++;
        } while (Peek.Kind == TokenKind.Name);
        return items.Count == 1 && !_tokens[_pos - 1].IsOp(",") ? items[0] : At(new TupleExpr(items), first);
    }

    private List<MacroParam> ParseParams()
    {
        var list = new List<MacroParam>();
        ExpectOp("(");
        while (!Peek.IsOp(")"))
        {
            string name = ExpectName();
            Expr? def = null;
            if (Peek.IsOp("="))
            {
                _pos++;
                def = ParseExpression(allowCond: true);
            }
            list.Add(new MacroParam(name, def));
            if (!Peek.IsOp(",")) break;
            _pos++;
        }
        ExpectOp(")");
        return list;
    }

    private MacroNode ParseMacro(Token kw)
    {
        string name = ExpectName();
        var ps = ParseParams();
        ExpectBlockEnd();
        var body = ParseBody(out _, "endmacro");
        ExpectBlockEnd();
        return At(new MacroNode { Name = name, Params = ps, Body = body }, kw);
    }

    private CallBlockNode ParseCallBlock(Token kw)
    {
        var callerParams = Peek.IsOp("(") ? ParseParams() : new List<MacroParam>();
        var callTok = Peek;
        var e = ParseExpression(allowCond: false);
        if (e is not CallExpr call) throw Error("expected a call after '{% call'", callTok);
        ExpectBlockEnd();
        var body = ParseBody(out _, "endcall");
        ExpectBlockEnd();
        return At(new CallBlockNode { Call = call, CallerParams = callerParams, Body = body }, kw);
    }

    private FilterBlockNode ParseFilterBlock(Token kw)
    {
        var filters = new List<FilterCall> { ParseFilterCall() };
        while (Peek.IsOp("|"))
        {
            _pos++;
            filters.Add(ParseFilterCall());
        }
        ExpectBlockEnd();
        var body = ParseBody(out _, "endfilter");
        ExpectBlockEnd();
        return At(new FilterBlockNode { Filters = filters, Body = body }, kw);
    }

    // ------------------------------------------------------------------ expressions

    /// <summary>An expression, or a bare tuple "a, b" (as in {% set a, b = 1, 2 %} or {{ a, b }}).</summary>
    private Expr ParseTuple(bool allowCond)
    {
        var first = Peek;
        var e = ParseExpression(allowCond);
        if (!Peek.IsOp(",")) return e;
        var items = new List<Expr> { e };
        while (Peek.IsOp(","))
        {
            _pos++;
            if (Peek.Kind is TokenKind.BlockEnd or TokenKind.VarEnd || Peek.IsOp(")")) break;
            items.Add(ParseExpression(allowCond));
        }
        return At(new TupleExpr(items), first);
    }

    private Expr ParseExpression(bool allowCond)
    {
        Enter();
        var e = allowCond ? ParseCondition() : ParseOr();
        Leave();
        return e;
    }

    private Expr ParseCondition()
    {
        var start = Peek;
        var e = ParseOr();
        while (Peek.IsName("if"))
        {
            _pos++;
            var test = ParseOr();
            Expr? otherwise = null;
            if (Peek.IsName("else"))
            {
                _pos++;
                otherwise = ParseCondition();
            }
            e = At(new CondExpr(test, e, otherwise), start);
        }
        return e;
    }

    private Expr ParseOr()
    {
        var e = ParseAnd();
        while (Peek.IsName("or"))
        {
            var t = Next();
            e = At(new BinaryExpr("or", e, ParseAnd()), t);
        }
        return e;
    }

    private Expr ParseAnd()
    {
        var e = ParseNot();
        while (Peek.IsName("and"))
        {
            var t = Next();
            e = At(new BinaryExpr("and", e, ParseNot()), t);
        }
        return e;
    }

    private Expr ParseNot()
    {
        if (Peek.IsName("not"))
        {
            var t = Next();
            Enter();
            var operand = ParseNot();
            Leave();
            return At(new UnaryExpr("not", operand), t);
        }
        return ParseCompare();
    }

    private Expr ParseCompare()
    {
        var e = ParseMath1();
        while (true)
        {
            var t = Peek;
            string? op = null;
            if (t.Kind == TokenKind.Op && t.Value is "==" or "!=" or "<" or ">" or "<=" or ">=") { op = t.Value; _pos++; }
            else if (t.IsName("in")) { op = "in"; _pos++; }
            else if (t.IsName("not") && PeekAt(1).IsName("in")) { op = "not in"; _pos += 2; }
            if (op == null) return e;
            e = At(new BinaryExpr(op, e, ParseMath1()), t);
        }
    }

    private Expr ParseMath1()
    {
        var e = ParseConcat();
        while (Peek.Kind == TokenKind.Op && Peek.Value is "+" or "-")
        {
            var t = Next();
            e = At(new BinaryExpr(t.Value, e, ParseConcat()), t);
        }
        return e;
    }

    private Expr ParseConcat()
    {
        var e = ParseMath2();
        while (Peek.IsOp("~"))
        {
            var t = Next();
            e = At(new BinaryExpr("~", e, ParseMath2()), t);
        }
        return e;
    }

    private Expr ParseMath2()
    {
        var e = ParsePow();
        while (Peek.Kind == TokenKind.Op && Peek.Value is "*" or "/" or "//" or "%")
        {
            var t = Next();
            e = At(new BinaryExpr(t.Value, e, ParsePow()), t);
        }
        return e;
    }

    private Expr ParsePow()
    {
        var e = ParseUnary(withFilter: true);
        while (Peek.IsOp("**"))
        {
            var t = Next();
            e = At(new BinaryExpr("**", e, ParseUnary(withFilter: true)), t);
        }
        return e;
    }

    private Expr ParseUnary(bool withFilter)
    {
        var t = Peek;
        Expr e;
        if (t.Kind == TokenKind.Op && t.Value is "-" or "+")
        {
            _pos++;
            Enter();
            var operand = ParseUnary(withFilter: false);
            Leave();
            e = At(new UnaryExpr(t.Value, operand), t);
        }
        else
        {
            e = ParsePostfix(ParsePrimary());
        }
        return withFilter ? ParseFilterAndTests(e) : e;
    }

    private Expr ParsePrimary()
    {
        var t = Next();
        switch (t.Kind)
        {
            case TokenKind.Name:
                return t.Value switch
                {
                    "true" or "True" => At(new ConstExpr(true), t),
                    "false" or "False" => At(new ConstExpr(false), t),
                    "none" or "None" => At(new ConstExpr(null), t),
                    _ => At(new NameExpr(t.Value), t),
                };
            case TokenKind.String:
            {
                string s = t.Value;
                while (Peek.Kind == TokenKind.String) s += Next().Value; // adjacent literals concatenate
                return At(new ConstExpr(s), t);
            }
            case TokenKind.Integer:
                if (long.TryParse(t.Value, NumberStyles.None, CultureInfo.InvariantCulture, out long l))
                    return At(new ConstExpr(l), t);
                return At(new ConstExpr(double.Parse(t.Value, CultureInfo.InvariantCulture)), t);
            case TokenKind.Float:
                return At(new ConstExpr(double.Parse(t.Value, NumberStyles.Float, CultureInfo.InvariantCulture)), t);
            case TokenKind.Op when t.Value == "(":
            {
                Enter();
                if (Peek.IsOp(")"))
                {
                    _pos++;
                    Leave();
                    return At(new TupleExpr(new List<Expr>()), t);
                }
                var e = ParseExpression(allowCond: true);
                if (Peek.IsOp(","))
                {
                    var items = new List<Expr> { e };
                    while (Peek.IsOp(","))
                    {
                        _pos++;
                        if (Peek.IsOp(")")) break;
                        items.Add(ParseExpression(allowCond: true));
                    }
                    e = At(new TupleExpr(items), t);
                }
                ExpectOp(")");
                Leave();
                return e;
            }
            case TokenKind.Op when t.Value == "[":
            {
                Enter();
                var items = new List<Expr>();
                while (!Peek.IsOp("]"))
                {
                    items.Add(ParseExpression(allowCond: true));
                    if (!Peek.IsOp(",")) break;
                    _pos++;
                }
                ExpectOp("]");
                Leave();
                return At(new ListExpr(items), t);
            }
            case TokenKind.Op when t.Value == "{":
            {
                Enter();
                var items = new List<(Expr, Expr)>();
                while (!Peek.IsOp("}"))
                {
                    var k = ParseExpression(allowCond: true);
                    ExpectOp(":");
                    var v = ParseExpression(allowCond: true);
                    items.Add((k, v));
                    if (!Peek.IsOp(",")) break;
                    _pos++;
                }
                ExpectOp("}");
                Leave();
                return At(new DictExpr(items), t);
            }
            default:
                throw Error($"unexpected {t.Describe()}", t);
        }
    }

    private Expr ParsePostfix(Expr e)
    {
        while (true)
        {
            var t = Peek;
            if (t.IsOp("."))
            {
                _pos++;
                var n = Next();
                if (n.Kind == TokenKind.Name) e = At(new AttrExpr(e, n.Value), n);
                else if (n.Kind == TokenKind.Integer) e = At(new ItemExpr(e, At(new ConstExpr(long.Parse(n.Value, CultureInfo.InvariantCulture)), n)), n);
                else throw Error($"expected an attribute name after '.', got {n.Describe()}", n);
            }
            else if (t.IsOp("["))
            {
                _pos++;
                e = ParseSubscript(e, t);
            }
            else if (t.IsOp("("))
            {
                e = At(new CallExpr(e, ParseCallArgs()), t);
            }
            else
            {
                return e;
            }
        }
    }

    private Expr ParseSubscript(Expr obj, Token open)
    {
        Enter();
        Expr? start = null, stop = null, step = null;
        bool isSlice = false;
        if (!Peek.IsOp(":")) start = ParseExpression(allowCond: true);
        if (Peek.IsOp(":"))
        {
            isSlice = true;
            _pos++;
            if (!Peek.IsOp(":") && !Peek.IsOp("]")) stop = ParseExpression(allowCond: true);
            if (Peek.IsOp(":"))
            {
                _pos++;
                if (!Peek.IsOp("]")) step = ParseExpression(allowCond: true);
            }
        }
        ExpectOp("]");
        Leave();
        if (isSlice) return At(new SliceExpr(obj, start, stop, step), open);
        return At(new ItemExpr(obj, start!), open);
    }

    private ArgList ParseCallArgs()
    {
        Enter();
        ExpectOp("(");
        var args = new ArgList();
        while (!Peek.IsOp(")"))
        {
            if (Peek.IsOp("*"))
            {
                _pos++;
                args.StarArgs = ParseExpression(allowCond: true);
            }
            else if (Peek.IsOp("**"))
            {
                _pos++;
                args.StarKwargs = ParseExpression(allowCond: true);
            }
            else if (Peek.Kind == TokenKind.Name && PeekAt(1).IsOp("="))
            {
                string name = Next().Value;
                _pos++;
                args.Keyword.Add((name, ParseExpression(allowCond: true)));
            }
            else
            {
                if (args.Keyword.Count > 0) throw Error("positional argument follows keyword argument", Peek);
                args.Positional.Add(ParseExpression(allowCond: true));
            }
            if (!Peek.IsOp(",")) break;
            _pos++;
        }
        ExpectOp(")");
        Leave();
        return args;
    }

    private FilterCall ParseFilterCall()
    {
        var t = Peek;
        var name = ExpectName();
        while (Peek.IsOp(".") && PeekAt(1).Kind == TokenKind.Name) // dotted filter names
        {
            _pos++;
            name += "." + Next().Value;
        }
        var args = Peek.IsOp("(") ? ParseCallArgs() : ArgList.Empty;
        return new FilterCall(name, args, t.Line, t.Column);
    }

    private Expr ParseFilterAndTests(Expr e)
    {
        while (true)
        {
            var t = Peek;
            if (t.IsOp("|"))
            {
                _pos++;
                var f = ParseFilterCall();
                e = At(new FilterExpr(e, f), t);
            }
            else if (t.IsName("is"))
            {
                _pos++;
                bool negate = false;
                if (Peek.IsName("not"))
                {
                    _pos++;
                    negate = true;
                }
                var nameTok = Peek;
                string name;
                if (nameTok.Kind == TokenKind.Name) { name = nameTok.Value; _pos++; }
                else if (nameTok.Kind == TokenKind.Op && nameTok.Value is "==" or "!=" or "<" or ">" or "<=" or ">=") { name = nameTok.Value; _pos++; }
                else throw Error($"expected a test name after 'is', got {nameTok.Describe()}", nameTok);
                // "none", "true", "false" lex as names here, which is what we want for the test names.
                ArgList args;
                if (Peek.IsOp("(")) args = ParseCallArgs();
                else if (StartsTestArgument(Peek))
                {
                    args = new ArgList();
                    args.Positional.Add(ParsePostfix(ParsePrimary()));
                }
                else args = ArgList.Empty;
                e = At(new TestExpr(e, name, args, negate), t);
            }
            else if (t.IsOp("("))
            {
                e = At(new CallExpr(e, ParseCallArgs()), t);
            }
            else
            {
                return e;
            }
        }
    }

    /// <summary>Jinja allows one argument without parentheses: <c>x is divisibleby 3</c>, <c>x is sameas false</c>.</summary>
    private static bool StartsTestArgument(Token t) =>
        t.Kind switch
        {
            TokenKind.Name => t.Value is not ("else" or "or" or "and" or "if" or "in" or "not" or "is"),
            TokenKind.String or TokenKind.Integer or TokenKind.Float => true,
            TokenKind.Op => t.Value is "[" or "{",
            _ => false,
        };
}
