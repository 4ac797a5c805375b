# Shared helpers of the CLI smoke tests (sourced by tests/cli_smoke.sh and tests/cli_library_smoke.sh).
# After sourcing: BIN (the binary), DATA (test photos), PY, TMP (a canonical temporary folder, removed
# at exit), and the checks below. Each script ends with `finish`, which prints "N passed, M failed".
set -u

script_name=$(basename "$0" .sh)
if [ $# -ne 1 ] || [ ! -x "$1" ]; then
  echo "usage: bash tests/$script_name.sh PATH/TO/facesearch (run from the repository root)" >&2
  exit 2
fi
BIN=$(cd "$(dirname "$1")" && pwd -P)/$(basename "$1")  # absolute: some checks run from other folders
DATA=${FACESEARCH_TESTDATA:-../shared/testdata/faces}
PY=/usr/bin/python3
if [ ! -d "$DATA/people" ]; then
  echo "$script_name: test photos not found in $DATA (set FACESEARCH_TESTDATA)" >&2
  exit 1
fi
# The library stores canonical paths: make the temporary folder's path canonical too.
TMP=$(cd "$(mktemp -d)" && pwd -P)
trap 'rm -rf "$TMP"' EXIT

passed=0
failed=0

pass() { passed=$((passed + 1)); echo "ok   $1"; }
fail() {
  failed=$((failed + 1))
  echo "FAIL $1"
  # What the command said, to see why without rerunning it.
  if [ -s "$TMP/err" ]; then sed -n '1,5s/^/     stderr: /p' "$TMP/err"; fi
  if [ -s "$TMP/out" ]; then sed -n '1,3s/^/     stdout: /p' "$TMP/out"; fi
}

# fs ARGS...: runs the binary; leaves $rc, $TMP/out and $TMP/err. A hang fails instead of blocking CTest.
fs() {
  timeout 120 "$BIN" "$@" >"$TMP/out" 2>"$TMP/err"
  rc=$?
}

# check NAME CONDITION...: passes when the command CONDITION succeeds.
check() {
  local name=$1
  shift
  if "$@"; then pass "$name"; else fail "$name"; fi
}

rc_is() { [ "$rc" -eq "$1" ]; }
out_has() { grep -qiF -- "$1" "$TMP/out"; }
err_has() { grep -qiF -- "$1" "$TMP/err"; }
err_lacks() { ! grep -qiF -- "$1" "$TMP/err"; }

# py NAME SCRIPT ARGS...: a Python check on the files named in ARGS (sys.argv[1:]); it fails by raising.
py() {
  local name=$1 script=$2
  shift 2
  local why
  if why=$("$PY" -c "$script" "$@" 2>&1); then pass "$name"; else
    fail "$name"
    echo "$why" | tail -n 3 | sed 's/^/     python: /'
  fi
}

finish() {
  echo
  echo "$passed passed, $failed failed"
  [ "$failed" -eq 0 ]
  exit $?
}
