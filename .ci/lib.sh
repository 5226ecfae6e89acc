# Shared by the .ci/ scripts (sourced, never run). The scripts are the nightly workflow's jobs: the YAML only calls
# them, and the tests run them directly.
#   QHH_ROOT   the harness checkout (this folder's parent)
#   DRY_RUN=1  print each harness command ("qhh ARGS", shell-quoted) on stdout instead of running it
#   QHH_CLI    the command that runs the harness, split on spaces (default: dotnet pwsh ./run.ps1, which sets the
#              machine up first); e.g. "dotnet src/QemuHotplugHarness.Cli/bin/Release/net10.0/qhh.dll"

QHH_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)

# Pipelines run with pipefail: a reader that stops early (head) breaks the writer's pipe and fails the pipeline, so
# the scripts take a first line with `sed -n 1p`, which reads to the end.

# An absolute path for a path given relative to where the script was started (before any cd).
abs() { realpath -m -- "$1"; }

# Runs the harness (dotnet pwsh ./run.ps1 ARGS, or $QHH_CLI ARGS) from the harness checkout, or prints it under DRY_RUN=1.
qhh() {
  if [ "${DRY_RUN:-}" = 1 ]; then
    printf 'qhh'; printf ' %q' "$@"; printf '\n'
    return 0
  fi
  local -a cli=(dotnet pwsh ./run.ps1)
  if [ -n "${QHH_CLI:-}" ]; then set -f; cli=($QHH_CLI); set +f; fi
  (cd "$QHH_ROOT" && "${cli[@]}" "$@")
}

# The repository's local .NET tools (pwsh); nothing under DRY_RUN=1 or with QHH_CLI.
qhh_tools() {
  if [ "${DRY_RUN:-}" = 1 ] || [ -n "${QHH_CLI:-}" ]; then return 0; fi
  (cd "$QHH_ROOT" && dotnet tool restore >&2)
}

# One line per kernel line of kernel-lines/*.json, oldest first (by "from", as the harness orders them), tab-separated:
#   NAME  PACKAGE  PACKAGE_PREFIX  SUITE  MIRROR   (PACKAGE or PACKAGE_PREFIX is "-")
kernel_lines() {
  python3 - "$QHH_ROOT/kernel-lines" <<'PY'
import json, pathlib, sys
lines = [json.loads(f.read_text()) for f in pathlib.Path(sys.argv[1]).glob("*.json")]
for line in sorted(lines, key=lambda l: tuple(int(p) for p in str(l["from"]).split("."))):
    d = line.get("debian") or {}
    print("\t".join([line["name"], d.get("package") or "-", d.get("packagePrefix") or "-", d.get("suite", "-"), d.get("mirror", "-")]))
PY
}

# A field of defaults.json (the default case and kernel line the CLI and run.ps1 read too).
harness_default() {
  python3 -c 'import json, sys; print(json.load(open(sys.argv[1]))[sys.argv[2]])' "$QHH_ROOT/defaults.json" "$1"
}

# Whether a kernel under test is given (the KUT_* variables .ci/kernel-under-test reads).
kernel_under_test_given() {
  [ -n "${KUT_ARTIFACT:-}${KUT_ARTIFACT_DIR:-}${KUT_DEBS:-}${KUT_IMAGE_URL:-}${KUT_GIT:-}" ]
}

# --cases DIR for each folder of $CASES (space-separated, relative to $CASES_ROOT, default the working folder).
cases_args() {
  local dir
  set -f
  for dir in ${CASES:-}; do printf '%s\n' --cases "$(abs "${CASES_ROOT:-.}/$dir")"; done
  set +f
}
