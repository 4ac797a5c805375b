#!/usr/bin/env bash
# Runs one harness until it has had CPU_SECONDS of CPU time (user + system) in all, counted from the
# per-run summaries in FUZZ_DIR/logs/NAME.history that fuzz/run.sh appends, in runs of at most CHUNK
# wall seconds (default 600) that keep the corpus. Wall time is not the figure on a shared machine: a
# fuzzer at `nice 19` next to a build gets a small share of a core. Exits 1 on a finding.
#   fuzz/budget.sh FUZZ_DIR NAME CPU_SECONDS [CHUNK]
set -uo pipefail
fuzz_dir=$1 name=$2 budget=$3 chunk=${4:-600}
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
history="$fuzz_dir/logs/$name.history"
spent() {  # CPU seconds so far, from lines "fuzz: NAME cpu U s user S s sys, R s wall"
  [ -f "$history" ] || { echo 0; return; }
  awk '$3 == "cpu" { t += $4 + $7 } END { printf "%d\n", t }' "$history"
}
while :; do
  done_s=$(spent)
  if [ "$done_s" -ge "$budget" ]; then
    echo "fuzz: $name has had ${done_s} CPU s of ${budget}"; exit 0
  fi
  bash "$here/run.sh" "$fuzz_dir" "$name" "$chunk" || exit 1
done
