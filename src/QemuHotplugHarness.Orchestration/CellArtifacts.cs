namespace QemuHotplugHarness.Orchestration;

/// <summary>
/// The files of one cell's folder: the only place their names are written. Writers (the cell runner) and
/// readers (reports, kcidb, merge) go through it.
/// </summary>
public sealed record CellArtifacts(string Dir)
{
    public string Console => Path.Combine(Dir, "console.log");
    public string Dmesg => Path.Combine(Dir, "dmesg.txt");
    public string NdctlLog => Path.Combine(Dir, "ndctl.log");
    public string QemuCommandLine => Path.Combine(Dir, "qemu-cmdline.txt");
    public string Observation => Path.Combine(Dir, "observation.json");
    public string Prediction => Path.Combine(Dir, "prediction.json");
    public string IomemAtBoot => Path.Combine(Dir, "iomem-boot.txt");
    public string IomemAfter(int iteration) => Path.Combine(Dir, $"iomem-{iteration}.txt");
    /// <summary>The n-th distinct oops (1-based): title, report, symbolized frames.</summary>
    public string Oops(int n) => Path.Combine(Dir, $"oops-{n}.txt");

    /// <summary>The files a report links to, in a stable order, those that exist.</summary>
    public IReadOnlyList<string> Outputs()
    {
        var fixedFiles = new[] { Dmesg, NdctlLog, QemuCommandLine, Observation, Prediction };
        var oopses = Enumerable.Range(1, int.MaxValue - 1).Select(Oops).TakeWhile(File.Exists);
        return fixedFiles.Where(File.Exists).Concat(oopses).ToList();
    }

    /// <summary>The folder an earlier attempt's files are kept in (attempt-1/), inside the cell's folder.</summary>
    public CellArtifacts Attempt(int n) => new(Path.Combine(Dir, $"attempt-{n}"));

    /// <summary>Moves the files of the attempt that just ended into <see cref="Attempt"/>(<paramref name="n"/>), so the next starts clean.</summary>
    public CellArtifacts KeepAsAttempt(int n)
    {
        var kept = Attempt(n).Create();
        if (Directory.Exists(Dir))
            foreach (var file in Directory.GetFiles(Dir)) File.Move(file, Path.Combine(kept.Dir, Path.GetFileName(file)), overwrite: true);
        return kept;
    }

    public CellArtifacts Create()
    {
        Directory.CreateDirectory(Dir);
        return this;
    }
}

/// <summary>The files of a run's top folder (reproduce, merge).</summary>
public sealed record RunArtifacts(string Dir)
{
    public string Summary => Path.Combine(Dir, "summary.json");
    public string Junit => Path.Combine(Dir, "junit.xml");
    public string Kcidb => Path.Combine(Dir, "kcidb.json");
    public string Html => Path.Combine(Dir, "report.html");
    public CellArtifacts Cell(string folder) => new(Path.Combine(Dir, folder));
}
