using System.Reflection;
using QemuHotplugHarness.Cli;
using Spectre.Console.Cli;

namespace QemuHotplugHarness.Tests.Cli;

/// <summary>One CLI: a flag means the same and defaults the same in every command; the suggestion table knows every command.</summary>
public class CliConsistencyTests
{
    [Test]
    public void Every_flag_has_one_default_across_the_commands_that_take_it()
    {
        var defaults = new Dictionary<string, HashSet<string>>();
        foreach (var (command, settings) in CliSuggestions.Commands)
        {
            var instance = Activator.CreateInstance(settings)!;
            foreach (var p in settings.GetProperties(BindingFlags.Public | BindingFlags.Instance))
                foreach (var name in p.GetCustomAttribute<CommandOptionAttribute>()?.LongNames ?? [])
                {
                    var value = p.GetValue(instance) switch { null => "(none)", Array a => $"[{a.Length}]", var v => v.ToString()! };
                    (defaults.TryGetValue(name, out var set) ? set : defaults[name] = []).Add(value);
                }
        }
        // --runs counts different things: bench guest's samples of one figure (5 for a median), soak's whole matrices (3).
        string[] different = ["runs"];
        var differing = defaults.Where(d => d.Value.Count > 1 && !different.Contains(d.Key)).Select(d => $"--{d.Key}: {string.Join(" vs ", d.Value)}").ToList();
        Assert.That(differing, Is.Empty);
        Assert.That(defaults, Does.ContainKey("jobs"));
    }

    [TestCase("--jbos", "--jobs")]
    [TestCase("--artifact", "--artifacts")]
    [TestCase("--kernel-imgae", "--kernel-image")]
    [TestCase("--zzzz", null)]
    public void The_closest_option_is_suggested_only_when_close(string typed, string? expected) =>
        Assert.That(CliSuggestions.Closest(typed, CliSuggestions.OptionsOf(typeof(QemuHotplugHarness.Cli.Commands.ReproduceCommand.Settings))),
            Is.EqualTo(expected));

    [Test]
    public void The_suggestion_table_names_every_command_the_app_has()
    {
        var commands = typeof(HarnessApp).Assembly.GetTypes()
            .Where(t => !t.IsAbstract && t.GetInterfaces().Any(i => i == typeof(ICommand)))
            .Select(t => t.DeclaringType?.Name ?? t.Name).Select(n => n.Replace("Command", "", StringComparison.Ordinal).ToLowerInvariant())
            .Distinct().ToList();
        Assert.That(CliSuggestions.Commands.Keys, Is.SupersetOf(commands));
    }
}
