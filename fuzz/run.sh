#!/usr/bin/env bash
# Runs one harness for SECONDS on its corpus: crashes, leaks, timeouts (10 s) and out-of-memory inputs
# (2 GiB) go to FUZZ_DIR/crashes/NAME, the log to FUZZ_DIR/logs/NAME.log. Exits 1 on a finding.
#   fuzz/run.sh FUZZ_DIR NAME SECONDS [more libFuzzer flags]
set -uo pipefail
fuzz_dir=$1 name=$2 seconds=$3; shift 3
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
mkdir -p "$fuzz_dir/crashes/$name" "$fuzz_dir/corpus/$name" "$fuzz_dir/logs"
dict=(); [ -f "$here/$name.dict" ] && dict=(-dict="$here/$name.dict")
log="$fuzz_dir/logs/$name.log"
echo "fuzz: $name for ${seconds}s (log $log)"
# CPU time of the fuzzer (user + system), the figure docs/RELIABILITY.md records, from bash's `time`.
TIMEFORMAT="fuzz: $name cpu %U s user %S s sys, %R s wall"
# Harnesses that take a path write each input to a scratch file under $TMPDIR: on tmpfs that is about
# 20 times faster than on a disk's file system (onnx_head_fuzz: 6,000 against 300 inputs a second, the
# rest of the time waiting for the journal), so /dev/shm is used when TMPDIR is not set.
if [ -z "${TMPDIR:-}" ] && [ -d /dev/shm ] && [ -w /dev/shm ]; then export TMPDIR=/dev/shm; fi
# Leaks inside uninstrumented third-party libraries are suppressed as in `make test-sanitize`.
export LSAN_OPTIONS="suppressions=$(dirname "$here")/tools/lsan.supp:print_suppressions=0"
{ time "$fuzz_dir/fuzz/$name" -max_total_time="$seconds" -rss_limit_mb=2048 -timeout=10 -print_final_stats=1 \
    -artifact_prefix="$fuzz_dir/crashes/$name/" "${dict[@]}" "$@" "$fuzz_dir/corpus/$name" >"$log" 2>&1; } 2>"$log.cpu"
rc=$?
# One summary per run, kept across runs (logs/NAME.history): CPU time, the last stats line, the totals.
{ cat "$log.cpu"
  grep -E '^#[0-9]+.*(DONE|cov:)' "$log" | tail -n 1
  grep -E '^stat::' "$log" | tr '\n' ' '; echo; } | tee -a "$fuzz_dir/logs/$name.history"
if [ $rc -ne 0 ]; then
  echo "fuzz: $name found a problem (exit $rc): $(ls "$fuzz_dir/crashes/$name" | tail -n 1)" >&2
  grep -m1 -E 'ERROR|SUMMARY|runtime error|deadly signal' "$log" >&2
  exit 1
fi
