using System.Reflection;
using QemuHotplugHarness.Cli;
using QemuHotplugHarness.Scenarios;
using Spectre.Console.Cli;

namespace QemuHotplugHarness.Tests.Cli;

/// <summary>The CLI's table from neutral inputs to the flags the user types.</summary>
public class CliInputsTests
{
    [Test]
    public void Every_input_kind_has_a_flag()
    {
        var missing = Enum.GetValues<InputKind>().Where(k => !CliInputs.Names.ContainsKey(k)).ToList();
        Assert.That(missing, Is.Empty, "an input the CLI cannot name: add it to CliInputs.Names");
    }

    [Test]
    public void Every_flag_in_the_table_is_a_real_option()
    {
        var options = typeof(HarnessApp).Assembly.GetTypes()
            .SelectMany(t => t.GetProperties())
            .Select(p => p.GetCustomAttribute<CommandOptionAttribute>())
            .Where(a => a is not null)
            .SelectMany(a => a!.LongNames.Select(n => "--" + n))
            .ToHashSet();
        var flags = CliInputs.Names.Values.Where(v => v.StartsWith("--", StringComparison.Ordinal)).ToList();
        Assert.That(flags, Is.SubsetOf(options));
        Assert.That(CliInputs.Names[InputKind.ShardFolder], Is.EqualTo("merge"), "the DIR arguments of qhh merge");
    }

    [Test]
    public void A_problem_not_about_one_input_is_its_message()
    {
        var e = new BadInputException("name at least one shard folder to merge");
        Assert.That(CliInputs.Lines(e), Is.EqualTo(new[] { "name at least one shard folder to merge" }));
    }
}
