using QemuHotplugHarness.Scenarios;

namespace QemuHotplugHarness.Cli;

/// <summary>
/// How the command line names each input the lower layers report on: the flag (or, for a positional argument, the
/// command) the user typed. Lower layers raise <see cref="BadInputException"/> with an <see cref="InputKind"/>; the
/// CLI renders each problem as <c>--flag VALUE: reason</c>.
/// </summary>
public static class CliInputs
{
    /// <summary>Every <see cref="InputKind"/> has an entry (a test checks it), so no input is reported without its flag.</summary>
    public static IReadOnlyDictionary<InputKind, string> Names { get; } = new Dictionary<InputKind, string>
    {
        [InputKind.Scenario] = "--scenario",
        [InputKind.Machine] = "--machine",
        [InputKind.Ram] = "--ram",
        [InputKind.MaxMem] = "--maxmem",
        [InputKind.Slots] = "--slots",
        [InputKind.Smp] = "--smp",
        [InputKind.Qemu] = "--qemu",
        [InputKind.NvdimmSize] = "--nvdimm-size",
        [InputKind.NvdimmAddress] = "--nvdimm-addr",
        [InputKind.LabelSize] = "--label-size",
        [InputKind.Pse] = "--pse",
        [InputKind.Kernel] = "--kernel",
        [InputKind.NamespaceSize] = "--namespace-size",
        [InputKind.Mode] = "--mode",
        [InputKind.Iterations] = "--iterations",
        [InputKind.Accel] = "--accel",
        [InputKind.Artifacts] = "--artifacts",
        [InputKind.KernelSource] = "--kernel-src",
        [InputKind.Patch] = "--patch",
        [InputKind.QemuSource] = "--qemu-src",
        [InputKind.KernelImage] = "--kernel-image",
        [InputKind.Modules] = "--modules",
        [InputKind.KernelDeb] = "--kernel-deb",
        [InputKind.KernelLine] = "--kernel-line",
        [InputKind.BootTimeout] = "--boot-timeout",
        [InputKind.CommandTimeout] = "--command-timeout",
        [InputKind.SshPort] = "--ssh-port",
        [InputKind.Matrix] = "--matrix",
        [InputKind.Repeat] = "--repeat",
        [InputKind.Shard] = "--shard",
        [InputKind.Jobs] = "--jobs",
        [InputKind.Variant] = "--variant",
        [InputKind.ShardFolder] = "merge", // the DIR arguments of qhh merge DIR...
        [InputKind.Sample] = "--sample",
        [InputKind.Seed] = "--seed",
        [InputKind.Case] = "--case",
        [InputKind.CasesDir] = "--cases",
        [InputKind.CompareInput] = "compare", // the BEFORE and AFTER arguments of qhh compare
        [InputKind.MarkdownFile] = "--markdown",
        [InputKind.KnownIssues] = "--known-issues",
        [InputKind.KcidbOrigin] = "--kcidb-origin",
        [InputKind.ArtifactsUrl] = "--artifacts-url",
        [InputKind.Out] = "--out",
    };

    public static string Flag(InputKind input) => Names[input];

    /// <summary>One line per problem (without the <c>qhh: </c> prefix), the origin (a matrix file's cell) first when there is one.</summary>
    public static IReadOnlyList<string> Lines(BadInputException e) =>
        e.Problems.Select(p => e.Origin is null ? Line(p) : $"{e.Origin}: {Line(p)}").ToList();

    public static string Line(InputProblem p) => p.Input is { } input ? $"{Flag(input)} {Quote(p.Value)}: {p.Reason}" : p.Reason;

    /// <summary>A value as the user would type it: quoted when it is empty or has spaces.</summary>
    private static string Quote(string value) =>
        value.Length == 0 || value.Any(char.IsWhiteSpace) ? $"'{value}'" : value;
}
