using System.Text.RegularExpressions;
using QemuHotplugHarness.Build;

namespace QemuHotplugHarness.Tests.Orchestration;

/// <summary>
/// The engine does not depend on what is built on it: the files of QemuHotplugHarness.Orchestration's own folder
/// (the plan, the engine, the reproducer, the reports) name no type of its Validation folder, which uses the engine.
/// Read from the source (code only: comments and string literals stripped), so a new reference fails here naming it.
/// </summary>
public partial class NamespaceLayeringTests
{
    private static readonly string Orchestration = Path.Combine(RepoLayout.Discover().Root, "src", "QemuHotplugHarness.Orchestration");

    [Test]
    public void The_engine_names_no_type_of_the_validation_namespace()
    {
        var validationTypes = Directory.GetFiles(Path.Combine(Orchestration, "Validation"), "*.cs")
            .SelectMany(f => Declared().Matches(Code(File.ReadAllText(f))).Select(m => m.Groups[1].Value)).ToHashSet();
        Assert.That(validationTypes, Does.Contain("Validator").And.Contain("ValidationDraw"), "the scan reads the declarations");
        var uses = Directory.GetFiles(Orchestration, "*.cs", SearchOption.AllDirectories)
            .Where(f => !f.Contains($"{Path.DirectorySeparatorChar}Validation{Path.DirectorySeparatorChar}") && !f.Contains($"{Path.DirectorySeparatorChar}obj{Path.DirectorySeparatorChar}"))
            .SelectMany(f => Identifiers().Matches(Code(File.ReadAllText(f))).Select(m => m.Value)
                .Where(id => validationTypes.Contains(id) || id == "Validation.").Distinct().Select(id => $"{Path.GetFileName(f)}: {id}"))
            .ToList();
        Assert.That(uses, Is.Empty, "the engine's folder refers to Orchestration.Validation");
    }

    /// <summary>The text without comments and string literals (what the compiler reads as code).</summary>
    private static string Code(string source) => Comment().Replace(StringLiteral().Replace(source, "\"\""), "");

    [GeneratedRegex(@"(?:class|record|interface|enum|struct)\s+([A-Z][A-Za-z0-9]*)")]
    private static partial Regex Declared();

    /// <summary>Type names, and a namespace qualifier "Validation." (not a member access "x.Validation.").</summary>
    [GeneratedRegex(@"(?<![.\w])Validation\.|\b[A-Z][A-Za-z0-9]*\b")]
    private static partial Regex Identifiers();

    [GeneratedRegex(@"\$?@?""(?:[^""\\\n]|\\.|"""")*""")]
    private static partial Regex StringLiteral();

    [GeneratedRegex(@"//[^\n]*|/\*.*?\*/", RegexOptions.Singleline)]
    private static partial Regex Comment();
}
