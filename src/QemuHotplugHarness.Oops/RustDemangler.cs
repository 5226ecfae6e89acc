using System.Text;

namespace QemuHotplugHarness.Oops;

/// <summary>
/// Rust v0 symbol names ("_RNv...") as paths without hashes or generic parameters, as crash titles name them:
/// "_RNvNtCs9jEwPDbx20M_4core9panicking9panic_fmt" is "core::panicking::panic_fmt", an inherent impl method is
/// "&lt;crate::module::Type&gt;::method". Covers crate roots, nested paths, impls, trait impls and backrefs; any other
/// symbol is returned as it is.
/// </summary>
public static class RustDemangler
{
    public static string Demangle(string symbol)
    {
        if (!symbol.StartsWith("_R", StringComparison.Ordinal)) return symbol;
        try
        {
            var p = new Parser(symbol[2..]);
            var path = p.Path();
            return path.Length > 0 ? path : symbol;
        }
        catch (FormatException)
        {
            return symbol;
        }
    }

    private sealed class Parser(string s)
    {
        private int _pos;
        private int _depth;

        private char Next() => _pos < s.Length ? s[_pos++] : throw new FormatException();
        private char Peek() => _pos < s.Length ? s[_pos] : '\0';

        public string Path()
        {
            if (++_depth > 64) throw new FormatException();
            try
            {
                switch (Next())
                {
                    case 'C':
                        SkipDisambiguator();
                        return Identifier();
                    case 'N':
                        var ns = Next();
                        var parent = Path();
                        SkipDisambiguator();
                        var name = Identifier();
                        return char.IsUpper(ns) ? $"{parent}::{{{(ns == 'C' ? "closure" : ns == 'S' ? "shim" : ns.ToString())}}}" : name.Length == 0 ? parent : $"{parent}::{name}";
                    case 'M':
                        SkipDisambiguator();
                        Path();
                        return $"<{Type()}>";
                    case 'X':
                        SkipDisambiguator();
                        Path();
                        var self = Type();
                        return $"<{self} as {Path()}>";
                    case 'Y':
                        var t = Type();
                        return $"<{t} as {Path()}>";
                    case 'I':
                        var generic = Path();
                        while (Peek() != 'E') GenericArg();
                        _pos++;
                        return generic;
                    case 'B':
                        return Backref(Path);
                    default:
                        throw new FormatException();
                }
            }
            finally
            {
                _depth--;
            }
        }

        private string Type()
        {
            var c = Peek();
            if (c is 'C' or 'N' or 'M' or 'X' or 'Y' or 'I' or 'B') return Path();
            _pos++;
            return c switch
            {
                'a' => "i8", 'b' => "bool", 'c' => "char", 'd' => "f64", 'e' => "str", 'f' => "f32", 'h' => "u8", 'i' => "isize",
                'j' => "usize", 'l' => "i32", 'm' => "u32", 'n' => "i128", 'o' => "u128", 's' => "i16", 't' => "u16", 'u' => "()",
                'x' => "i64", 'y' => "u64", 'z' => "!", 'p' => "_",
                'R' or 'Q' => (c == 'R' ? "&" : "&mut ") + SkipLifetime() + Type(),
                'P' => "*const " + Type(),
                'O' => "*mut " + Type(),
                'A' => $"[{Type()}; N]",
                'S' => $"[{Type()}]",
                _ => throw new FormatException(),
            };
        }

        private string SkipLifetime()
        {
            if (Peek() == 'L') { _pos++; Base62(); }
            return "";
        }

        private void GenericArg()
        {
            if (Peek() == 'L') { _pos++; Base62(); }
            else if (Peek() == 'K') throw new FormatException();
            else Type();
        }

        private string Backref(Func<string> parse)
        {
            var target = Base62();
            if (target >= (ulong)_pos) throw new FormatException();
            var saved = _pos;
            _pos = (int)target;
            var result = parse();
            _pos = saved;
            return result;
        }

        private void SkipDisambiguator()
        {
            if (Peek() != 's') return;
            _pos++;
            Base62();
        }

        /// <summary>"_" is 0; otherwise base-62 digits then "_", plus one (crate hashes wrap: they are only skipped).</summary>
        private ulong Base62()
        {
            if (Peek() == '_') { _pos++; return 0; }
            ulong value = 0;
            for (char c; (c = Next()) != '_';)
            {
                var digit = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'z' ? c - 'a' + 10 : c >= 'A' && c <= 'Z' ? c - 'A' + 36 : throw new FormatException();
                value = unchecked(value * 62 + (ulong)digit);
            }
            return value + 1;
        }

        private string Identifier()
        {
            if (Peek() == 'u') throw new FormatException(); // punycode: not in kernel symbols
            var start = _pos;
            while (char.IsAsciiDigit(Peek())) _pos++;
            if (_pos == start) throw new FormatException();
            var length = int.Parse(s.AsSpan(start, _pos - start), provider: System.Globalization.CultureInfo.InvariantCulture);
            if (Peek() == '_') _pos++;
            if (_pos + length > s.Length) throw new FormatException();
            var name = s.Substring(_pos, length);
            _pos += length;
            return name;
        }
    }
}
