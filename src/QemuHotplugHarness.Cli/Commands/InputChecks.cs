using System.Globalization;
using System.Net;
using System.Net.Sockets;
using QemuHotplugHarness.Scenarios;
using QemuHotplugHarness.Build;

namespace QemuHotplugHarness.Cli.Commands;

/// <summary>
/// What can be checked about the files, folders, numbers and ports a command was given before anything is built,
/// booted or written: every problem at once, one line each. The builders check again (they are used without the
/// CLI too); these checks only make sure a user's mistake never starts a build or a guest.
/// </summary>
public static class InputChecks
{
    public const int MaxTimeoutSeconds = 24 * 60 * 60;

    /// <summary>run and reproduce: where kernels and QEMU come from, timeouts, the SSH port, the accelerator.</summary>
    public static void Guest(GuestSettings s)
    {
        var problems = new List<InputProblem>();
        Sources(problems, s.KernelSrc, s.Patch, s.QemuSrc);
        if (s.Modules is { } modules && !Directory.Exists(modules)) problems.Add(new(InputKind.Modules, modules, "no such directory"));
        foreach (var spec in s.KernelImages) KernelImage(problems, spec);
        Timeout(problems, InputKind.BootTimeout, s.BootTimeout);
        Timeout(problems, InputKind.CommandTimeout, s.CommandTimeout);
        if (s.SshPort is { } port) SshPort(problems, port);
        if (!new[] { "auto", "kvm", "tcg" }.Contains(s.Accel.ToLowerInvariant())) problems.Add(new(InputKind.Accel, s.Accel, "unknown value (use auto, kvm or tcg)"));
        ThrowIfAny(problems);
    }

    /// <summary>
    /// <see cref="Guest"/>, then whether the patch under test can make a variant of the kernel tree (when a patch or
    /// a tree was given and the tree is not tested as it is): a patch that applies neither way is refused here, not
    /// after QEMU and the first kernel were built.
    /// </summary>
    public static async Task GuestAsync(GuestSettings s, bool treeAsIs, CancellationToken ct, IReadOnlyList<string>? casePatches = null)
    {
        Guest(s);
        if (!treeAsIs && (s.KernelSrc is not null || s.Patch is not null))
            await PatchAsync(s.KernelSrc, s.Patch, casePatches ?? s.CasePatches(), ct, s.EffectiveKernelLine());
    }

    /// <summary>
    /// The patch under test (--patch, else each case's fix) against the tree it will be applied to; nothing to check for
    /// the cases' own patches on Debian's source.
    /// </summary>
    public static async Task PatchAsync(string? kernelSrc, string? patch, IReadOnlyList<string> casePatches, CancellationToken ct, string? kernelLine = null)
    {
        if (kernelSrc is null && patch is null) return;
        var line = kernelLine is null ? null : RepoLayout.Discover().Lines().Get(kernelLine);
        foreach (var file in patch is null ? casePatches : [patch])
        {
            if (await KernelBuilder.PatchProblemAsync(HarnessCache.DefaultRoot(), kernelSrc, file, ct, line) is not { } problem) continue;
            throw patch is not null
                ? new BadInputException(InputKind.Patch, patch, problem)
                : new BadInputException(InputKind.KernelSource, kernelSrc!, $"the patch under test ({Path.GetFileName(file)}) {problem}");
        }
    }

    /// <summary>build: the trees and the patch it would build from.</summary>
    public static void Build(string? kernelSrc, string? patch, string? qemuSrc)
    {
        var problems = new List<InputProblem>();
        Sources(problems, kernelSrc, patch, qemuSrc);
        ThrowIfAny(problems);
    }

    private static void ThrowIfAny(List<InputProblem> problems)
    {
        if (problems.Count > 0) throw new BadInputException(problems);
    }

    private static void Sources(List<InputProblem> problems, string? kernelSrc, string? patch, string? qemuSrc)
    {
        if (kernelSrc is not null)
        {
            if (KernelTree.Problem(kernelSrc) is { } problem) problems.Add(new(InputKind.KernelSource, kernelSrc, problem));
        }
        if (patch is not null)
        {
            if (!File.Exists(patch)) problems.Add(new(InputKind.Patch, patch, "no such file"));
            else if (!LooksLikeAPatch(patch)) problems.Add(new(InputKind.Patch, patch, "not a patch (no unified diff hunk: ---, +++ and @@ lines)"));
        }
        if (qemuSrc is not null && !Directory.Exists(qemuSrc) && !File.Exists(qemuSrc))
            problems.Add(new(InputKind.QemuSource, qemuSrc, "no such directory or tarball"));
    }

    /// <summary>A unified diff has a <c>---</c> line, a <c>+++</c> line and a hunk header (read as text; a binary file has none).</summary>
    public static bool LooksLikeAPatch(string path)
    {
        bool minus = false, plus = false;
        foreach (var line in File.ReadLines(path))
        {
            minus |= line.StartsWith("--- ", StringComparison.Ordinal);
            plus |= minus && line.StartsWith("+++ ", StringComparison.Ordinal);
            if (plus && line.StartsWith("@@ ", StringComparison.Ordinal)) return true;
        }
        return false;
    }

    private static void KernelImage(List<InputProblem> problems, string spec)
    {
        var eq = spec.IndexOf('=');
        if (eq <= 0) problems.Add(new(InputKind.KernelImage, spec, "use NAME=PATH"));
        else if (!File.Exists(spec[(eq + 1)..])) problems.Add(new(InputKind.KernelImage, spec, "no such file"));
    }

    private static void Timeout(List<InputProblem> problems, InputKind input, int seconds)
    {
        if (seconds is < 1 or > MaxTimeoutSeconds)
            problems.Add(new(input, seconds.ToString(CultureInfo.InvariantCulture), $"seconds between 1 and {MaxTimeoutSeconds}"));
    }

    /// <summary>A port the guest's sshd can be forwarded to: in range, and free on 127.0.0.1 now.</summary>
    private static void SshPort(List<InputProblem> problems, int port)
    {
        var text = port.ToString(CultureInfo.InvariantCulture);
        if (port is < 1 or > IPEndPoint.MaxPort)
        {
            problems.Add(new(InputKind.SshPort, text, "not a port (1-65535)"));
            return;
        }
        try
        {
            using var listener = new TcpListener(IPAddress.Loopback, port);
            listener.Start();
        }
        catch (SocketException e)
        {
            problems.Add(new(InputKind.SshPort, text, e.SocketErrorCode == SocketError.AddressAlreadyInUse ? "port is busy on 127.0.0.1" : "cannot listen there: " + e.Message));
        }
    }
}
