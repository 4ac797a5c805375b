#!/usr/bin/env bash
# CLI hygiene through the real binary: names with control characters shown escaped to people (and
# exact in JSON and CSV), results that cannot be written (> /dev/full) as failures, "--" before file
# names, --threshold and --jobs ranges, and SIGTERM handled like Ctrl-C.
# Usage: bash tests/cli_hygiene.sh PATH/TO/facesearch   (from the repository root; CTest does this)
# Needs the models (`make setup`, or FACESEARCH_MODELS), /usr/bin/python3 and util-linux's `script`.
source "$(dirname "$0")/smoke_lib.sh" "$@"

QUERY=$(cd "$DATA/people/Tony_Blair" && pwd -P)/lfw_Tony_Blair_0001.jpg  # absolute: some checks run in $TMP
export FACESEARCH_DB=$TMP/library.db

# fs_full ARGS...: runs the binary with stdout on /dev/full (every write fails with ENOSPC).
fs_full() {
  timeout 120 "$BIN" "$@" >/dev/full 2>"$TMP/err"
  rc=$?
  : >"$TMP/out"
}
# no_raw_control FILE: FILE holds no ESC, no other C0 control but \n, and no C1 CSI (U+009B).
no_raw_control() { ! LC_ALL=C grep -qP '[\x00-\x09\x0b-\x1f\x7f]|\xc2\x9b' "$1"; }

# ---- names that would drive the terminal ---------------------------------------------------------
# A photo whose name clears the screen and starts a forged line, a broken "photo" whose name turns the
# text red and forges another, a name with a one-character CSI (U+009B) and a tab, and a broken one
# whose name reverses the text after it (U+202E) and is not UTF-8 (byte 0xff).
PHOTOS=$TMP/photos
mkdir -p "$PHOTOS"
EVIL=$(printf 'evil\033[2J\nFORGED match 0.999.jpg')
BAD=$(printf 'bad\033[31m\nfacesearch: all good.jpg')
CSI=$(printf 'csi\xc2\x9b2J\tname.jpg')
RTL=$(printf 'rtl\xe2\x80\xaegnp\xff.jpg')
cp "$DATA/people/Tony_Blair/lfw_Tony_Blair_0029.jpg" "$PHOTOS/$EVIL"
cp "$DATA/people/Tony_Blair/lfw_Tony_Blair_0058.jpg" "$PHOTOS/$CSI"
printf 'not a photo' >"$PHOTOS/$BAD"
printf 'not a photo either' >"$PHOTOS/$RTL"

fs index "$PHOTOS"
check "index of the odd names: exit 0, 2 added, 2 errors" eval 'rc_is 0 && out_has "2 added" && out_has "2 errors"'
check "index: the skipped line shows the name escaped, on one line" \
  eval 'no_raw_control "$TMP/err" && err_has "skipped $PHOTOS/bad\\x1b[31m\\nfacesearch: all good.jpg: " && ! grep -q "^facesearch: all good" "$TMP/err"'

fs status
check "status table: the errors' names escaped (\\u202e, \\xff too), nothing raw" \
  eval 'rc_is 0 && no_raw_control "$TMP/out" && out_has "$PHOTOS/bad\\x1b[31m\\nfacesearch: all good.jpg: " && out_has "$PHOTOS/rtl\\u202egnp\\xff.jpg: " && ! LC_ALL=C grep -qP "\\xe2\\x80\\xae|\\xff" "$TMP/out"'

fs search -q "$QUERY"
check "library search table: escaped names (\\x1b, \\n, \\u009b, \\t), no forged line" \
  eval 'rc_is 0 && no_raw_control "$TMP/out" && out_has "$PHOTOS/evil\\x1b[2J\\nFORGED match 0.999.jpg" && out_has "$PHOTOS/csi\\u009b2J\\tname.jpg" && ! grep -q "^FORGED" "$TMP/out"'

fs search -q "$QUERY" --format json
py "library search JSON: the exact names" '
import json, os, sys
d = json.load(open(sys.argv[1]))
paths = sorted(m["path"] for m in d["matches"])
assert paths == sorted(os.path.join(sys.argv[2], n) for n in sys.argv[3:5]), paths
' "$TMP/out" "$PHOTOS" "$EVIL" "$CSI"

fs search -q "$QUERY" --format csv
py "library search CSV: the exact names, newline quoted" '
import csv, os, sys
rows = list(csv.DictReader(open(sys.argv[1], newline="")))
assert sorted(r["path"] for r in rows) == sorted(os.path.join(sys.argv[2], n) for n in sys.argv[3:5]), rows
' "$TMP/out" "$PHOTOS" "$EVIL" "$CSI"

fs search -q "$QUERY" -t "$PHOTOS"
check "search of folders: skipped line and table escaped" \
  eval 'rc_is 0 && no_raw_control "$TMP/out" && no_raw_control "$TMP/err" && err_has "skipped $PHOTOS/bad\\x1b[31m\\nfacesearch" && out_has "evil\\x1b[2J\\nFORGED"'

fs faces "$PHOTOS/$EVIL"
check "faces: the photo's name escaped" eval 'rc_is 0 && no_raw_control "$TMP/out" && out_has "$PHOTOS/evil\\x1b[2J\\nFORGED"'

fs search -q "$TMP/$(printf 'gone\033]0;owned\007.jpg')" -t "$PHOTOS"
check "error message naming a missing query: escaped (OSC title sequence shown, not run)" \
  eval 'rc_is 1 && no_raw_control "$TMP/err" && err_has "gone\\x1b]0;owned\\x07.jpg"'

fs search -q "$QUERY" "$(printf -- '--bogus\033[2J')"
check "usage error quoting an odd argument: escaped" eval 'rc_is 2 && no_raw_control "$TMP/err" && err_has "--bogus\\x1b[2J"'

# ---- results that cannot be written --------------------------------------------------------------
for command in "search -q $QUERY" "search -q $QUERY --format json" "search -q $QUERY -t $PHOTOS --quiet" \
  "status --format json" "status" "faces $PHOTOS/csi*" "models list" "models list --format json" "--help"; do
  # shellcheck disable=SC2086  # the words of $command are its arguments (no spaces in these paths)
  fs_full $command
  check "$command > /dev/full: exit 1, says the output could not be written and why" \
    eval 'rc_is 1 && err_has "facesearch: error: cannot write the output (No space left on device)"'
done

fs search -q "$QUERY" -t "$PHOTOS" --quiet
check "the same search to a file: exit 0 (the check above is about the output, not the search)" rc_is 0

# A closed pipe ends the output quietly, as for cat or grep: SIGPIPE, no error message (the reading
# end is closed before facesearch starts, so its first write meets it).
py "stdout on a closed pipe: ended by SIGPIPE, nothing on stderr" '
import os, signal, subprocess, sys
r, w = os.pipe()
os.close(r)
p = subprocess.run([sys.argv[1], "models", "list"], stdout=w, stderr=subprocess.PIPE, timeout=120)
assert p.returncode == -signal.SIGPIPE and p.stderr == b"", (p.returncode, p.stderr)
' "$BIN"

# ---- "--" ends the options -----------------------------------------------------------------------
DASHED=$TMP/-dashed
mkdir -p "$DASHED"
cp "$DATA/people/Tony_Blair/lfw_Tony_Blair_0087.jpg" "$DASHED/-photo.jpg"
(cd "$TMP" && timeout 120 "$BIN" index --db "$TMP/dashed.db" -- -dashed >"$TMP/out" 2>"$TMP/err")
rc=$?
check "index -- -dashed: a folder named like an option is indexed" eval 'rc_is 0 && out_has "1 added"'
(cd "$TMP" && timeout 120 "$BIN" index --db "$TMP/dashed.db" -dashed >"$TMP/out" 2>"$TMP/err")
rc=$?
check "index -dashed without --: a usage error (so the -- above mattered)" rc_is 2
(cd "$TMP" && timeout 120 "$BIN" search -q "$QUERY" --format json -t photos -- -dashed >"$TMP/out" 2>"$TMP/err")
rc=$?
py "search -q PHOTO -t DIR -- -dashed: both folders are searched on the fly" '
import json, sys
d = json.load(open(sys.argv[1]))
assert "-dashed/-photo.jpg" in [m["path"] for m in d["matches"]], d["matches"]  # as given: relative
assert d["stats"]["images"] == 5, d["stats"]  # 4 in photos, 1 in -dashed
' "$TMP/out"
(cd "$DASHED" && timeout 120 "$BIN" faces --db "$TMP/dashed.db" --format json -- -photo.jpg >"$TMP/out" 2>"$TMP/err")
rc=$?
py "faces -- -photo.jpg: the photo's faces" '
import json, sys
d = json.load(open(sys.argv[1]))
assert d["path"] == sys.argv[2] + "/-photo.jpg" and len(d["faces"]) == 1, d
' "$TMP/out" "$DASHED"
fs search -q "$QUERY" -t "$PHOTOS" -- --threshold 0.5
check "after --, an option-like word is a file name (a missing target), not an option" \
  eval 'rc_is 1 && err_has "--threshold" && err_has "does not exist"'

# ---- --threshold and --jobs ranges ---------------------------------------------------------------
for t in 2 -2 1.01 -1.5 nan; do
  fs search -q "$QUERY" -t "$PHOTOS" --threshold "$t"
  check "--threshold $t: usage error naming the range" eval 'rc_is 2 && err_has "--threshold" && err_has "from -1 to 1"'
done
fs search -q "$QUERY" -t "$PHOTOS" --threshold 1 --format json --quiet
check "--threshold 1 is accepted (only identical faces match)" rc_is 0
for command in "search -q $QUERY -t $PHOTOS" "index $PHOTOS"; do
  # shellcheck disable=SC2086
  fs $command --jobs 100000
  check "${command%% *} --jobs 100000: usage error naming the bound" eval 'rc_is 2 && err_has "--jobs" && err_has "to 256"'
done
fs search --help
check "search --help: the --jobs bound and the SIGTERM exit status" eval 'out_has "at most 256" && out_has "143"'
fs index --help
check "index --help: the --jobs bound and the SIGTERM exit status" eval 'out_has "at most 256" && out_has "143"'

# ---- SIGTERM: like Ctrl-C ------------------------------------------------------------------------
# The index runs with its stderr on a terminal (script's pty), where the progress line is drawn from
# the first photo on. FACESEARCH_TEST_PAUSE_AFTER_BATCHES=1 holds it inside its second batch (the first
# committed), so SIGTERM always reaches a run in the middle of its work, on a fast machine or a slow one:
# 60 photos, and the first batch holds at most 32.
MANY=$TMP/many
mkdir -p "$MANY"
for f in "$DATA"/people/*/lfw_*.jpg; do
  cp "$f" "$MANY/a_$(basename "$f")"
  cp "$f" "$MANY/b_$(basename "$f")"
done
TOTAL=$(find "$MANY" -type f | wc -l)
TERM_DB=$TMP/term.db
rm -f "$TMP/term.pid" "$TMP/term.rc" "$TMP/term.log"
script -qec "sh -c 'FACESEARCH_TEST_PAUSE_AFTER_BATCHES=1 \"$BIN\" index --db \"$TERM_DB\" --jobs 1 \"$MANY\" >\"$TMP/term.out\" & echo \$! >\"$TMP/term.pid\"; wait \$!; echo \$? >\"$TMP/term.rc\"'" \
  /dev/null </dev/null >"$TMP/term.log" 2>&1 &
script_pid=$!
paused=""
while kill -0 "$script_pid" 2>/dev/null; do  # until the pause (a run that ends without it fails below)
  if [ -s "$TMP/term.pid" ] && LC_ALL=C grep -aqF "test pause after batch 1" "$TMP/term.log"; then paused=1; break; fi
  sleep 0.05
done
seen=$(LC_ALL=C grep -aoE '\[index\] [0-9]+/[0-9]+ images' "$TMP/term.log" | tail -n 1)
[ -n "$paused" ] && kill -TERM "$(cat "$TMP/term.pid")" 2>/dev/null
wait "$script_pid"
rc=$(cat "$TMP/term.rc" 2>/dev/null || echo none)
DONE=$(echo "$seen" | sed -E 's/.*\] ([0-9]+)\/.*/\1/')
cp "$TMP/term.out" "$TMP/out"
check "index got SIGTERM after progress showed ($seen): exit 143, interrupted summary" \
  eval '[ -n "$paused" ] && [ -n "$seen" ] && [ "$rc" = 143 ] && out_has "Interrupted after"'
fs status --db "$TERM_DB" --format json
cp "$TMP/out" "$TMP/term_status.json"
py "after SIGTERM the library holds the photos read before it (at least $DONE), not all $TOTAL" '
import json, sys
d = json.load(open(sys.argv[1]))
assert int(sys.argv[2]) <= d["images"] < int(sys.argv[3]), (d["images"], sys.argv[2:])
' "$TMP/term_status.json" "${DONE:-1}" "$TOTAL"
fs index --db "$TERM_DB" "$MANY" --format json --quiet
py "a rerun completes: every photo in the library, the ones saved before not read again" '
import json, sys
r, before = json.load(open(sys.argv[1])), json.load(open(sys.argv[2]))
assert r["interrupted"] is False and r["library"]["images"] == int(sys.argv[3]), r
assert r["unchanged"] == before["images"] and r["added"] == int(sys.argv[3]) - before["images"], r
' "$TMP/out" "$TMP/term_status.json" "$TOTAL"

finish
