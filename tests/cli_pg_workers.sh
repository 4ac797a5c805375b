#!/usr/bin/env bash
# Indexing a PostgreSQL library with several workers (issue 16) through the real binary: three
# `facesearch index --db postgresql://...` processes share one job and build the library one process
# builds; a worker killed with -9 in the middle of a batch loses nothing (the others take its files
# when its claim expires); a worker whose connection is cut says so clearly and the next run completes;
# status, search and faces work on the database library. The server is the ctest fixture's
# ($FACESEARCH_TEST_PG_DIR, tests/pg_cluster.sh), else one started here and stopped at exit.
# Usage: bash tests/cli_pg_workers.sh PATH/TO/facesearch   (from the repository root; CTest does this)
source "$(dirname "$0")/smoke_lib.sh" "$@"

CLUSTER=${FACESEARCH_TEST_PG_DIR:-}
if [ -z "$CLUSTER" ] || [ ! -f "$CLUSTER/uri" ]; then
  CLUSTER=$TMP/pg
  bash "$(dirname "$0")/pg_cluster.sh" start "$CLUSTER" >/dev/null || { echo "cannot start PostgreSQL (run make setup)" >&2; exit 1; }
  trap 'bash "$(dirname "$0")/pg_cluster.sh" stop "$CLUSTER" >/dev/null 2>&1; rm -rf "$TMP"' EXIT
fi
ADMIN=$(cat "$CLUSTER/uri")
# A fresh database per library; its address is the admin one with another database name.
new_db() {
  local name="workers_$$_$1"
  psql "$ADMIN" -qAtc "DROP DATABASE IF EXISTS $name" -c "CREATE DATABASE $name" >/dev/null 2>&1
  echo "${ADMIN/\/facesearch\?//$name?}"
}
# One line per face, sorted: photo, face index, box and the first embedding numbers (rounded).
dump() {
  psql "$1" -qAtc "SELECT i.path, i.status, f.face_index, round(f.x1::numeric, 1), round(f.y1::numeric, 1),
                          round(f.x2::numeric, 1), round(f.y2::numeric, 1), substr(f.embedding::text, 1, 40)
                   FROM images i LEFT JOIN faces f ON f.image_id = i.id ORDER BY 1, 3"
}
queue_left() { psql "$1" -qAtc "SELECT count(*) FROM work_queue"; }
DATA_PEOPLE=$(cd "$DATA/people" && pwd -P)
# Claims last 15 s: a live worker renews them every 5 s from a thread of its own (however slow an
# image), so only a stalled machine could lose a live claim; the dead worker's files wait this long.
export FACESEARCH_CLAIM_SECONDS=15

REF=$(new_db ref)
fs index --db "$REF" --jobs 2 "$DATA_PEOPLE"
check "one worker indexes testdata's people into a PostgreSQL library" eval 'rc_is 0 && out_has "118 added"'
dump "$REF" > "$TMP/ref.txt"
check "the library holds every photo and face" eval '[ "$(cut -d"|" -f1 "$TMP/ref.txt" | sort -u | wc -l)" = 118 ]'

# Three workers at once, one of them killed with -9 while it holds a claim and an open transaction.
LIB=$(new_db three)
FACESEARCH_TEST_PAUSE_AFTER_BATCHES=1 "$BIN" index --db "$LIB" --jobs 1 "$DATA_PEOPLE" >"$TMP/k.out" 2>"$TMP/k.err" &
victim=$!
for _ in $(seq 1 3000); do grep -q "test pause after batch 1" "$TMP/k.err" && break; kill -0 $victim 2>/dev/null || break; sleep 0.1; done
check "a worker stops mid-batch (test pause) holding its claim" grep -q "test pause after batch 1" "$TMP/k.err"
before_kill=$(psql "$LIB" -qAtc "SELECT count(*) FROM images")
timeout 300 "$BIN" index --db "$LIB" --jobs 1 "$DATA_PEOPLE" >"$TMP/w2.out" 2>"$TMP/w2.err" &
w2=$!
timeout 300 "$BIN" index --db "$LIB" --jobs 1 "$DATA_PEOPLE" >"$TMP/w3.out" 2>"$TMP/w3.err" &
w3=$!
# Not a timing assumption: whenever the kill comes, the victim holds an uncommitted photo and its claim
# (renewed by its claim thread while it lives, paused or not), so the others cannot finish before it
# dies (its row locks) nor take its files until its claim expires after the kill; the sleep only lets
# them start first, and the outcome is the same on a machine 10x faster or slower.
sleep 1
kill -9 $victim
wait $victim 2>/dev/null
wait $w2; rc2=$?
wait $w3; rc3=$?
cat "$TMP/w2.err" "$TMP/w3.err" > "$TMP/err"; cat "$TMP/w2.out" "$TMP/w3.out" > "$TMP/out"
grep -h "error" "$TMP/w2.err" "$TMP/w3.err" | head -5 | sed 's/^/     worker: /'
check "the two other workers finish the job (the dead one's files too)" eval '[ $rc2 = 0 ] && [ $rc3 = 0 ]'
check "the job's queue is empty" eval '[ "$(queue_left "$LIB")" = 0 ]'
dump "$LIB" > "$TMP/three.txt"
check "three workers (one killed) build the library one worker builds" cmp -s "$TMP/ref.txt" "$TMP/three.txt"
added=0
for f in "$TMP/w2.out" "$TMP/w3.out"; do added=$((added + $(sed -n 's/.* \([0-9]*\) added.*/\1/p' "$f"))); done
check "nothing was analysed twice: the others' added photos and what the killed one committed make 118" \
  eval '[ $((added + before_kill)) = 118 ] && [ "$before_kill" -gt 0 ]'

# A worker whose connection is cut mid-batch: a clear error, non-zero exit; the next run completes.
CUT=$(new_db cut)
FACESEARCH_TEST_PAUSE_AFTER_BATCHES=1 "$BIN" index --db "$CUT" --jobs 1 "$DATA_PEOPLE" >"$TMP/c.out" 2>"$TMP/c.err" &
cutter=$!
for _ in $(seq 1 3000); do grep -q "test pause after batch 1" "$TMP/c.err" && break; kill -0 $cutter 2>/dev/null || break; sleep 0.1; done
before_cut=$(psql "$CUT" -qAtc "SELECT count(*) FROM images")
psql "$ADMIN" -qAtc "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = 'workers_$$_cut'" >/dev/null
kill -INT $cutter
wait $cutter; rc=$?
cp "$TMP/c.err" "$TMP/err"
check "a cut connection: exit 1 and a message that says what happened" \
  eval '[ $rc = 1 ] && err_has "connection to the PostgreSQL server was lost" && err_has "run again"'
check "the batch in flight was not committed" \
  eval '[ "$(psql "$CUT" -qAtc "SELECT count(*) FROM images")" = "$before_cut" ] && [ "$before_cut" -gt 0 ]'
fs index --db "$CUT" --jobs 2 "$DATA_PEOPLE"
check "the next run completes the library" eval 'rc_is 0'
dump "$CUT" > "$TMP/cut.txt"
check "... identical to the one-worker library" cmp -s "$TMP/ref.txt" "$TMP/cut.txt"

# A worker on a machine where the photos are mounted elsewhere: --mount HERE LIBRARY_PATH.
mkdir -p "$TMP/nas/photos" "$TMP/laptop/mnt"
for person in obama biden Tony_Blair; do cp -rp "$DATA_PEOPLE/$person" "$TMP/nas/photos/"; done
cp -rp "$TMP/nas/photos" "$TMP/laptop/mnt/photos"
MNT=$(new_db mount)
fs index --db "$MNT" --mount "$TMP/laptop/mnt/photos" "$TMP/nas/photos" "$TMP/laptop/mnt/photos"
check "a worker with --mount indexes its copy" eval 'rc_is 0 && out_has " added"'
outside=$(psql "$MNT" -qAtc "SELECT count(*) FROM images WHERE substr(path, 1, length('$TMP/nas/photos/')) <> '$TMP/nas/photos/'")
roots=$(psql "$MNT" -qAtc "SELECT string_agg(path, ',') FROM roots")
check "... stored under the library's paths only" eval '[ "$outside" = 0 ] && [ "$roots" = "$TMP/nas/photos" ]'
fs index --db "$MNT" "$TMP/nas/photos"
check "a worker where they live at the library's path finds nothing to do" eval 'rc_is 0 && out_has " 0 added" && out_has "0 deleted"'

# The other commands on a database library.
fs status --db "$LIB"
check "status names the library by its address and counts it" eval 'rc_is 0 && out_has "postgresql://" && out_has "118"'
fs search --db "$LIB" -q "$DATA_PEOPLE/obama/fr_obama.jpg" --format json
py "search finds obama's photos in the database library" '
import json, sys
d = json.load(open(sys.argv[1]))
paths = [m["path"] for m in d["matches"]]
assert len(paths) >= 4 and all("/obama/" in p for p in paths), paths
' "$TMP/out"
fs index --db "postgresql://facesearch@127.0.0.1:1/nowhere?connect_timeout=3" "$DATA_PEOPLE"
check "an unreachable server: exit 1, says so, names the address" \
  eval 'rc_is 1 && err_has "cannot reach the PostgreSQL server" && err_has "127.0.0.1:1"'

for name in ref three cut mount; do psql "$ADMIN" -qAtc "DROP DATABASE IF EXISTS workers_$$_$name" >/dev/null 2>&1; done
finish
