using System.Text.RegularExpressions;

namespace QemuHotplugHarness.Tests.Ci;

/// <summary>
/// The part of GitHub Actions' expression language the nightly workflow uses: string, number and boolean literals,
/// context paths (<c>steps.key.outputs.key</c>), function calls, <c>!</c>, <c>==</c>, <c>!=</c>, <c>&amp;&amp;</c>,
/// <c>||</c> (which return an operand, as GitHub's do) and parentheses. Anything else is an error, so a workflow that
/// starts using more of the language fails the test that runs it instead of being run wrongly.
/// </summary>
public sealed partial class WorkflowExpression(Func<string, object?> context, Func<string, IReadOnlyList<object?>, object?> call)
{
    private List<string> _tokens = [];
    private int _at;

    /// <summary>Replaces every <c>${{ expr }}</c> in <paramref name="text"/> by its value as a string.</summary>
    public string Substitute(string text) => Embedded().Replace(text, m => Text(Evaluate(m.Groups[1].Value)));

    public object? Evaluate(string expression)
    {
        _tokens = Tokens(expression);
        _at = 0;
        var value = Or();
        if (_at != _tokens.Count) throw new NotSupportedException($"cannot evaluate '{expression}': unexpected '{_tokens[_at]}'");
        return value;
    }

    public static string Text(object? value) => value switch
    {
        null => "",
        bool b => b ? "true" : "false",
        double d => d.ToString(System.Globalization.CultureInfo.InvariantCulture),
        _ => value.ToString() ?? "",
    };

    public static bool Truthy(object? value) => value switch
    {
        null => false,
        bool b => b,
        double d => d != 0,
        string s => s.Length > 0,
        _ => true,
    };

    private object? Or()
    {
        var left = And();
        while (Take("||")) left = Truthy(left) ? Skip(And, left) : And();
        return left;
    }

    private object? And()
    {
        var left = Equality();
        while (Take("&&")) left = Truthy(left) ? Equality() : Skip(Equality, left);
        return left;
    }

    /// <summary>Parses the right operand without using it (short-circuit) and keeps the left one.</summary>
    private static object? Skip(Func<object?> operand, object? keep)
    {
        operand();
        return keep;
    }

    private object? Equality()
    {
        var left = Unary();
        if (Take("==")) return Same(left, Unary());
        if (Take("!=")) return !Same(left, Unary());
        return left;
    }

    /// <summary>GitHub compares strings ignoring case, and booleans with booleans.</summary>
    private static bool Same(object? a, object? b) =>
        a is bool x && b is bool y ? x == y : string.Equals(Text(a), Text(b), StringComparison.OrdinalIgnoreCase);

    private object? Unary() => Take("!") ? !Truthy(Unary()) : Primary();

    private object? Primary()
    {
        var token = Next();
        if (token == "(")
        {
            var inner = Or();
            Expect(")");
            return inner;
        }
        if (token.StartsWith('\'')) return token[1..^1].Replace("''", "'");
        if (char.IsAsciiDigit(token[0])) return double.Parse(token, System.Globalization.CultureInfo.InvariantCulture);
        if (token is "true" or "false") return token == "true";
        if (token == "null") return null;
        return Take("(") ? call(token, Arguments()) : context(token);
    }

    private List<object?> Arguments()
    {
        var args = new List<object?>();
        if (Take(")")) return args;
        do args.Add(Or());
        while (Take(","));
        Expect(")");
        return args;
    }

    private string Next() => _at < _tokens.Count ? _tokens[_at++] : throw new NotSupportedException("expression ends too early");

    private bool Take(string token)
    {
        if (_at >= _tokens.Count || _tokens[_at] != token) return false;
        _at++;
        return true;
    }

    private void Expect(string token)
    {
        if (!Take(token)) throw new NotSupportedException($"expected '{token}'");
    }

    private static List<string> Tokens(string expression)
    {
        var tokens = new List<string>();
        var rest = expression.Trim();
        while (rest.Length > 0)
        {
            var m = Token().Match(rest);
            if (!m.Success) throw new NotSupportedException($"cannot read '{rest}' in '{expression}'");
            tokens.Add(m.Groups[1].Value);
            rest = rest[m.Length..].TrimStart();
        }
        return tokens;
    }

    [GeneratedRegex(@"^('(?:[^']|'')*'|==|!=|&&|\|\||!|\(|\)|,|\d+(?:\.\d+)?|[A-Za-z_][A-Za-z0-9_\-]*(?:\.[A-Za-z0-9_\-\*]+)*)")]
    private static partial Regex Token();

    [GeneratedRegex(@"\$\{\{(.*?)\}\}", RegexOptions.Singleline)]
    private static partial Regex Embedded();
}
