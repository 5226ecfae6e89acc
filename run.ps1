#!/usr/bin/env -S pwsh -NoProfile
# QemuHotplugHarness entry point. Usage:
#   dotnet pwsh ./run.ps1 setup          install what is missing (apt), build the harness
#   dotnet pwsh ./run.ps1 reproduce      the unpatched-vs-patched reproduction (the main job)
#   dotnet pwsh ./run.ps1 test           every test; ends with "N passed, N failed, N skipped"
#   dotnet pwsh ./run.ps1 test --fast    every test except categories RealGuest and HostTools
#   dotnet pwsh ./run.ps1 <command>      any other qhh command (predict, scan, build, run, merge, ...)
# Other arguments after "test" go to dotnet test. run.ps1's own lines and the apt/build output go to
# stderr; stdout, stdin and the exit code belong to the forwarded qhh command (or dotnet test).
# Apt is checked, and the harness built, only when a stamp under obj/ says something changed.
# Exit codes: the forwarded command's (qhh: 0 ok, 1 a check failed, 2 bad input, 3 could not judge, 4 setup failed,
# 130/143 interrupted; test: 0 all passed, 1 otherwise); run.ps1's own setup (apt, building the harness) failing is
# exit 4, never 1 (the code of a regression).
$ErrorActionPreference = 'Stop'
Set-StrictMode -Version Latest
$Root = $PSScriptRoot
$Configuration = 'Release'
$CliDll = [IO.Path]::Combine($Root, "src/QemuHotplugHarness.Cli/bin/$Configuration/net10.0/qhh.dll")
$TestDll = [IO.Path]::Combine($Root, "tests/QemuHotplugHarness.Tests/bin/$Configuration/net10.0/QemuHotplugHarness.Tests.dll")
$StampDir = [IO.Path]::Combine($Root, 'obj')   # gitignored
$FastFilter = 'TestCategory!=RealGuest&TestCategory!=HostTools'
# No build server or compiler server outlives the build (the node-reuse default leaves MSBuild and VBCSCompiler behind).
$BuildArguments = @('build', [IO.Path]::Combine($Root, 'QemuHotplugHarness.sln'), '-c', $Configuration, '-nologo', '-v', 'quiet',
    '-clp:ErrorsOnly', '-tl:off', '--disable-build-servers', '-nodeReuse:false', '-p:UseSharedCompilation=false')

# The default kernel line (defaults.json, the file the CLI and the workflow read): its Debian source is installed
# when Debian names one package for it; other lines are fetched by the harness through its own apt lists. Read
# without failing: a checkout without the files gets no package here and the harness names what is missing.
function Get-DefaultLinePackage {
    $defaults = [IO.Path]::Combine($Root, 'defaults.json')
    if (-not [IO.File]::Exists($defaults)) { return @() }
    $line = ([IO.File]::ReadAllText($defaults) | ConvertFrom-Json).line
    $file = [IO.Path]::Combine($Root, 'kernel-lines', "$line.json")
    if (-not [IO.File]::Exists($file)) { return @() }
    $debian = ([IO.File]::ReadAllText($file) | ConvertFrom-Json).debian
    return @($debian.PSObject.Properties['package'] | Where-Object { $_.Value } | ForEach-Object { $_.Value })
}

# Debian packages the builders, the guest runner and the report test use.
$AptPackages = @(
    'build-essential', 'bc', 'flex', 'bison', 'libelf-dev', 'libssl-dev', 'cpio', 'xz-utils', 'gzip',
    'dpkg-dev', 'python3', 'meson', 'ninja-build', 'pkg-config', 'libglib2.0-dev', 'libpixman-1-dev',
    'libslirp-dev', 'libfdt-dev', 'qemu-system-x86', 'seabios', 'ipxe-qemu', 'patch',
    'openssh-client', 'binutils', 'chromium', 'lz4', 'git', 'curl'
) + @(Get-DefaultLinePackage)
$DebSrcFile = '/etc/apt/sources.list.d/qemu-hotplug-harness-src.sources'
$DpkgStatus = '/var/lib/dpkg/status'

function Say([string]$Message) { [Console]::Error.WriteLine("run.ps1: $Message") }

# Setup failed (apt, the harness's build): exit 4, as qhh's ExitCode.SetupFailed, distinct from a regression (1).
$SetupFailed = 4
function Stop-Run([string]$Message) { Say $Message; exit $SetupFailed }

# Anything else run.ps1's own steps throw (a missing file, a failed native call) is a setup failure too.
trap { Say "setup failed: $_"; exit $SetupFailed }

# Runs a tool whose output is not the command's: its stdout and stderr both go to our stderr.
function Invoke-Native([string]$File, [string[]]$Arguments) {
    & $File @Arguments 2>&1 | ForEach-Object { [Console]::Error.WriteLine("$_") }
    if ($LASTEXITCODE -ne 0) { Stop-Run "'$File $($Arguments -join ' ')' failed with exit code $LASTEXITCODE" }
}

function Read-Stamp([string]$Name) {
    $path = [IO.Path]::Combine($StampDir, $Name)
    if ([IO.File]::Exists($path)) { return [IO.File]::ReadAllText($path) }
    return $null
}

function Write-Stamp([string]$Name, [string]$Key) {
    [void][IO.Directory]::CreateDirectory($StampDir)
    $path = [IO.Path]::Combine($StampDir, $Name)
    [IO.File]::WriteAllText("$path.tmp", $Key)
    [IO.File]::Move("$path.tmp", $path, $true)
}

function Remove-Stamp([string]$Name) {
    $path = [IO.Path]::Combine($StampDir, $Name)
    if ([IO.File]::Exists($path)) { [IO.File]::Delete($path) }
}

# What the apt check depends on: the package list, dpkg's database and our deb-src entry.
function Get-AptKey {
    $status = [IO.FileInfo]::new($DpkgStatus)
    return "$($AptPackages -join ' ')|$($status.Length)|$($status.LastWriteTimeUtc.Ticks)|$([IO.File]::Exists($DebSrcFile))"
}

function Get-MissingDebs {
    $installed = @{}
    # One query for all packages; exit code 1 only means some package is unknown to dpkg.
    foreach ($line in @(& dpkg-query -W -f '${Package} ${Status}\n' @AptPackages 2>$null)) {
        $name, $status = "$line" -split ' ', 2
        if ("$status" -match ' ok installed$') { $installed[$name] = $true }
    }
    return @($AptPackages | Where-Object { -not $installed.ContainsKey($_) })
}

# -Always: setup checks every time; other commands only when dpkg's database changed since the last good check.
function Install-Prerequisites([switch]$Always) {
    if (-not [IO.File]::Exists('/usr/bin/apt-get') -or -not [IO.File]::Exists($DpkgStatus)) {
        Say 'not a Debian machine: skipping apt (install the packages of run.ps1 by hand)'; return
    }
    if (-not $Always -and (Read-Stamp 'apt.stamp') -ceq (Get-AptKey)) { return }
    $sudo = @()
    if ((& id -u) -ne '0') { $sudo = @('sudo') }
    $updated = $false
    if (-not (Test-Path $DebSrcFile)) {
        Say "adding deb-src entries for bookworm ($DebSrcFile): QEMU is built from Debian's source package"
        $text = @"
Types: deb-src
URIs: http://deb.debian.org/debian
Suites: bookworm bookworm-updates
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb-src
URIs: http://deb.debian.org/debian-security
Suites: bookworm-security
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
"@
        $tmp = [IO.Path]::GetTempFileName()
        Set-Content -Path $tmp -Value $text
        $cmd = $sudo + @("install", "-m", "0644", $tmp, $DebSrcFile)
        Invoke-Native $cmd[0] ($cmd | Select-Object -Skip 1)
        Remove-Item $tmp
        $needUpdate = $true
    } else { $needUpdate = $false }
    $missing = @(Get-MissingDebs)
    if ($missing.Count -gt 0 -or $needUpdate) {
        Say "apt-get update"
        $cmd = $sudo + @('apt-get', 'update', '-q')
        Invoke-Native $cmd[0] ($cmd | Select-Object -Skip 1)
        $updated = $true
    }
    if ($missing.Count -gt 0) {
        Say "installing with apt: $($missing -join ' ')"
        $env:DEBIAN_FRONTEND = 'noninteractive'
        $cmd = $sudo + @('apt-get', 'install', '-y', '-q', '--no-install-recommends') + $missing
        Invoke-Native $cmd[0] ($cmd | Select-Object -Skip 1)
        $missing = @(Get-MissingDebs)
        if ($missing.Count -gt 0) { Stop-Run "still not installed after apt-get install: $($missing -join ' ')" }
    } elseif (-not $updated) {
        Say "apt packages present ($($AptPackages.Count) checked)"
    }
    Write-Stamp 'apt.stamp' (Get-AptKey)
}

# The files MSBuild reads: everything under src/ and tests/ but the projects' bin/ and obj/, and the build files
# at the root. One recursive listing and one regex over it: far cheaper in PowerShell than a pruning walk.
function Get-BuildInputs {
    $all = [IO.SearchOption]::AllDirectories
    $outputs = '^' + [regex]::Escape($Root) + '/(src|tests)/[^/]+/(bin|obj)/'
    $files = [Collections.Generic.List[string]]::new()
    foreach ($top in 'src', 'tests') {
        $dir = [IO.Path]::Combine($Root, $top)
        if ([IO.Directory]::Exists($dir)) { $files.AddRange([string[]]([IO.Directory]::GetFiles($dir, '*', $all) -notmatch $outputs)) }
    }
    $files.AddRange([string[]]([IO.Directory]::GetFiles($Root) -match '/([^/]+\.(sln|slnx|props|targets)|global\.json|nuget\.config)$'))
    $files.Sort([StringComparer]::Ordinal)
    return , $files
}

# The build stamp's key: the build command, the installed SDKs, and each input file's path, size and mtime.
# Not a content hash: MSBuild's own incrementality goes by timestamps, so this key is as strong as the build it
# guards; it is cheaper (measured on 2 busy cores: 170 ms median against 230 ms for SHA-256 over the ~330 KB of
# 135 inputs); and a content key would wrongly match after a manual `dotnet build` of an edit that was reverted.
function Get-BuildKey {
    $sdks = [IO.Path]::Combine([IO.Path]::GetDirectoryName([Environment]::ProcessPath), 'sdk')
    $sdkNames = if ([IO.Directory]::Exists($sdks)) { [IO.Directory]::GetDirectories($sdks) -join ' ' } else { '?' }
    $key = [Text.StringBuilder]::new()
    [void]$key.Append("$($BuildArguments -join ' ')`n$sdkNames`n")
    foreach ($file in (Get-BuildInputs)) {
        $info = [IO.FileInfo]::new($file)
        [void]$key.Append($file, $Root.Length, $file.Length - $Root.Length).Append(' ').Append($info.Length).Append(' ').Append($info.LastWriteTimeUtc.Ticks).Append("`n")
    }
    return $key.ToString()
}

function Build-Harness {
    $key = Get-BuildKey
    if ((Read-Stamp 'build.stamp') -ceq $key -and [IO.File]::Exists($CliDll) -and [IO.File]::Exists($TestDll)) { return }
    Say "building the harness ($Configuration)"
    # A failed build may have rewritten some outputs: until one succeeds, no stamp matches.
    Remove-Stamp 'build.stamp'
    Invoke-Native 'dotnet' $BuildArguments
    Write-Stamp 'build.stamp' $key
}

# One line per skipped test, "skipped: <TestName>: <reason>", from the TRX results.
function Write-Skipped($Doc) {
    foreach ($result in @($Doc.GetElementsByTagName('UnitTestResult'))) {
        if ($result.GetAttribute('outcome') -ne 'NotExecuted') { continue }
        $reason = ''
        foreach ($tag in 'Message', 'StdOut') {
            $node = @($result.GetElementsByTagName($tag))
            if ($node.Count -gt 0 -and $node[0].InnerText.Trim()) { $reason = $node[0].InnerText; break }
        }
        $reason = ($reason -replace '\s*\r?\n\s*', ' ').Trim()
        if (-not $reason) { $reason = '(no reason given)' }
        Write-Output "skipped: $($result.GetAttribute('testName')): $reason"
    }
}

function Invoke-Tests([string[]]$Arguments) {
    $fast = $false; $userFilter = $null
    $extra = [Collections.Generic.List[string]]::new()
    for ($i = 0; $i -lt $Arguments.Count; $i++) {
        $a = $Arguments[$i]
        if ($a -ceq '--fast') { $fast = $true }
        elseif ($a -ceq '--filter' -and $i + 1 -lt $Arguments.Count) { $userFilter = $Arguments[++$i] }
        elseif ($a.StartsWith('--filter=')) { $userFilter = $a.Substring(9) }
        else { $extra.Add($a) }
    }
    $filter = if ($fast -and $userFilter) { "($userFilter)&$FastFilter" } elseif ($fast) { $FastFilter } else { $userFilter }
    if ($filter) { $extra.Add('--filter'); $extra.Add($filter) }
    $results = [IO.Path]::Combine([IO.Path]::GetTempPath(), "qhh-test-" + [Guid]::NewGuid().ToString('N'))
    [void][IO.Directory]::CreateDirectory($results)
    & dotnet test ([IO.Path]::Combine($Root, 'QemuHotplugHarness.sln')) -c $Configuration --no-build -nologo `
        --logger 'trx' --logger 'console;verbosity=normal' --results-directory $results @extra
    $testExit = $LASTEXITCODE
    $passed = 0; $failed = 0; $skipped = 0
    $trx = @([IO.Directory]::GetFiles($results, '*.trx', [IO.SearchOption]::AllDirectories))
    foreach ($file in $trx) {
        $doc = [xml]::new()
        $doc.Load($file)
        $c = $doc.TestRun.ResultSummary.Counters
        $passed += [int]$c.passed
        $failed += [int]$c.failed + [int]$c.error + [int]$c.timeout + [int]$c.aborted
        $skipped += [int]$c.total - [int]$c.executed
        Write-Skipped $doc
        # A failed one-time teardown (the suite-end check that no QEMU is left) is no test's result: count it as one.
        foreach ($info in @($doc.GetElementsByTagName('RunInfo'))) {
            if ($info.GetAttribute('outcome') -eq 'Error' -and $info.InnerText -match 'TearDown') {
                $failed += 1
                Write-Output "failed: $(($info.InnerText -replace '\s*\r?\n\s*', ' ').Trim())"
            }
        }
    }
    [IO.Directory]::Delete($results, $true)
    if ($trx.Count -eq 0 -and $testExit -ne 0) { $failed += 1 }
    Write-Output "$passed passed, $failed failed, $skipped skipped"
    if ($failed -gt 0 -or $testExit -ne 0 -or $passed -eq 0) { exit 1 }
    exit 0
}

$command = if ($args.Count -gt 0) { [string]$args[0] } else { 'help' }
$rest = [string[]]@(if ($args.Count -gt 1) { $args[1..($args.Count - 1)] })

switch ($command) {
    'setup' { Install-Prerequisites -Always; Build-Harness; Say 'ready'; exit 0 }
    'test' { Install-Prerequisites; Build-Harness; Invoke-Tests $rest }
    { $_ -in @('help', '-h', '--help') } {
        foreach ($line in [IO.File]::ReadLines($PSCommandPath)) {
            if ($line.StartsWith('#!')) { continue }
            if (-not $line.StartsWith('#')) { break }
            Write-Output ($line -replace '^# ?', '')
        }
        exit 0
    }
    default {
        Install-Prerequisites
        Build-Harness
        & dotnet $CliDll $command @rest
        exit $LASTEXITCODE
    }
}
