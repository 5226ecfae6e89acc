using System.Reflection;
using System.Text.RegularExpressions;
using QemuHotplugHarness.Cli.Commands;
using QemuHotplugHarness.Scenarios;
using Spectre.Console.Cli;

namespace QemuHotplugHarness.Cli;

/// <summary>
/// "did you mean": an unknown option or command gets the closest one the command line has (the options of the command
/// typed, else of any command), by edit distance, when one is close enough to be what was meant.
/// </summary>
public static class CliSuggestions
{
    /// <summary>Each command's settings (the options it takes), by the name typed.</summary>
    public static readonly IReadOnlyDictionary<string, Type> Commands = new Dictionary<string, Type>(StringComparer.Ordinal)
    {
        ["predict"] = typeof(PredictCommand.Settings), ["scan"] = typeof(ScanCommand.Settings), ["build"] = typeof(BuildCommand.AllSettings),
        ["run"] = typeof(GuestSettings), ["reproduce"] = typeof(ReproduceCommand.Settings), ["validate"] = typeof(ValidateCommand.Settings),
        ["bench"] = typeof(BenchCommand.Settings), ["soak"] = typeof(SoakCommand.Settings), ["merge"] = typeof(MergeCommand.Settings),
        ["compare"] = typeof(CompareCommand.Settings),
        ["build all"] = typeof(BuildCommand.AllSettings), ["build kernel"] = typeof(BuildCommand.KernelSettings),
        ["build qemu"] = typeof(BuildCommand.QemuSettings), ["build image"] = typeof(BuildCommand.ImageSettings),
    };

    /// <summary>The long options ("--jobs") a settings type takes, its base classes' included.</summary>
    public static IReadOnlyList<string> OptionsOf(Type settings) =>
        settings.GetProperties(BindingFlags.Public | BindingFlags.Instance)
            .SelectMany(p => p.GetCustomAttribute<CommandOptionAttribute>()?.LongNames ?? [])
            .Select(n => "--" + n).Distinct().Order(StringComparer.Ordinal).ToList();

    /// <summary>The parser's "Unknown option 'x'." or "Unknown command 'x'." as one bad-input line with a suggestion; null for other errors.</summary>
    public static BadInputException? Unknown(Exception e, string[] args)
    {
        if (e is not CommandAppException) return null;
        var option = Regex.Match(e.Message, "^(Unknown|Unexpected) option '(?<name>[^']*)'");
        if (option.Success)
        {
            var typed = "--" + option.Groups["name"].Value;
            var words = args.Where(a => !a.StartsWith('-')).Take(2).ToList();
            var command = words.Count == 2 && Commands.ContainsKey($"{words[0]} {words[1]}") ? $"{words[0]} {words[1]}" : words.FirstOrDefault();
            var mine = command is not null && Commands.TryGetValue(command, out var settings) ? OptionsOf(settings) : [];
            var known = command is not null && Commands.ContainsKey(command);
            List<string> root = ["--help", "--version"];
            var pool = known ? mine : command is null ? root : root.Concat(Commands.Values.SelectMany(OptionsOf)).Distinct().ToList();
            var elsewhere = Commands.Where(c => c.Key != command && OptionsOf(c.Value).Contains(typed)).Select(c => c.Key).ToList();
            var hint = Closest(typed, pool) is { } best ? $"; did you mean {best}?"
                : elsewhere.Count > 0 ? $" (an option of qhh {string.Join(" and ", elsewhere)}; see qhh {command} --help)"
                : $" (see qhh {(known ? command + " " : "")}--help)";
            return new BadInputException($"{typed}: unknown option{(known ? $" of qhh {command}" : "")}{hint}");
        }
        var cmd = Regex.Match(e.Message, "^Unknown command '(?<name>[^']*)'");
        if (cmd.Success)
        {
            var typed = cmd.Groups["name"].Value;
            var best = Closest(typed, Commands.Keys.Where(k => !k.Contains(' ')).ToList());
            return new BadInputException($"{typed}: unknown command{(best is null ? " (see qhh --help)" : $"; did you mean {best}?")}");
        }
        return null;
    }

    /// <summary>The candidate nearest <paramref name="typed"/>, if within a third of its length (at least 1, at most 3) edits.</summary>
    public static string? Closest(string typed, IReadOnlyList<string> candidates)
    {
        var limit = Math.Clamp(typed.TrimStart('-').Length / 3, 1, 3);
        return candidates.Select(c => (c, d: Distance(typed, c))).Where(x => x.d <= limit)
            .OrderBy(x => x.d).ThenBy(x => x.c, StringComparer.Ordinal).Select(x => x.c).FirstOrDefault();
    }

    /// <summary>Edits (insert, delete, substitute, swap two neighbours) from <paramref name="a"/> to <paramref name="b"/>.</summary>
    public static int Distance(string a, string b)
    {
        var d = new int[a.Length + 1, b.Length + 1];
        for (var i = 0; i <= a.Length; i++) d[i, 0] = i;
        for (var j = 0; j <= b.Length; j++) d[0, j] = j;
        for (var i = 1; i <= a.Length; i++)
            for (var j = 1; j <= b.Length; j++)
            {
                var cost = a[i - 1] == b[j - 1] ? 0 : 1;
                d[i, j] = Math.Min(Math.Min(d[i - 1, j] + 1, d[i, j - 1] + 1), d[i - 1, j - 1] + cost);
                if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1]) d[i, j] = Math.Min(d[i, j], d[i - 2, j - 2] + 1);
            }
        return d[a.Length, b.Length];
    }
}
