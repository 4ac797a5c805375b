#!/usr/bin/env bash
# The library on disk, through the real binary (issue 10, items 8 and 9): a damaged page of the faces
# table found by status and index with a remedy that works; another user's library searched without
# writing anything next to it (as user nobody, with setpriv); a 0-byte file that readers leave alone;
# and an `index --rebuild` left unfinished (a folder away), which search, faces and status report until a run ends.
# Usage: bash tests/cli_catalog.sh PATH/TO/facesearch   (from the repository root; CTest does this)
# Prints "N passed, M failed". Needs the models (`make setup`, or FACESEARCH_MODELS) and /usr/bin/python3.
source "$(dirname "$0")/smoke_lib.sh" "$@"

MODELS=${FACESEARCH_MODELS:-${XDG_DATA_HOME:-$HOME/.local/share}/facesearch/models/dlib-faceapi}
LIB=$TMP/lib
export FACESEARCH_DB=$LIB/library.db
export FACESEARCH_MODELS=$MODELS

PHOTOS=$TMP/photos
mkdir -p "$PHOTOS"
for person in Tony_Blair Vladimir_Putin Laura_Bush Serena_Williams Hugo_Chavez; do cp -r "$DATA/people/$person" "$PHOTOS/"; done
cp "$DATA/scenes/fr_obama_and_biden.jpg" "$DATA/noface/dlib_dog.jpg" "$PHOTOS/"
QUERY=$PHOTOS/Tony_Blair/lfw_Tony_Blair_0001.jpg
FILES=27

fs index --quiet "$PHOTOS"
check "index: a library of $FILES photos" eval 'rc_is 0 && out_has "Indexed $FILES files"'

# ---- another user's library: read-only for us -----------------------------------------------------
# As user nobody, who cannot write the library or its folder (nor read root's home: the ONNX Runtime
# library and the models are copied where nobody can read them).
as_nobody() {
  timeout 120 env LD_LIBRARY_PATH="$TMP/runtime" FACESEARCH_MODELS="$TMP/models" \
    setpriv --reuid=nobody --regid=nogroup --clear-groups "$BIN" "$@" >"$TMP/out" 2>"$TMP/err"
  rc=$?
}
listing() { find "$1" -mindepth 1 -printf '%P %s %T@ %u\n' | sort; }  # names, sizes, times, owners
if ! command -v setpriv >/dev/null; then
  echo "skip read-only library checks: setpriv (util-linux) is missing"
else
  chmod 0755 "$TMP" "$LIB"
  chmod -R a+rX "$PHOTOS"
  cp -r "$MODELS" "$TMP/models" && chmod -R a+rX "$TMP/models"
  mkdir -p "$TMP/runtime"
  for lib in $(ldd "$BIN" | awk '$3 ~ /^\// {print $3}'); do
    case $lib in /root/* | /home/*) cp -L "$lib" "$TMP/runtime/" ;; esac
  done
  chmod -R a+rX "$TMP/runtime"
  # nobody cannot write here: the outputs go to a folder of their own.
  before=$(listing "$LIB")
  as_nobody status
  check "another user's library: status as nobody, exit 0 with its contents" \
    eval 'rc_is 0 && out_has "Images       $FILES ($FILES ok" && err_lacks "readonly"'
  as_nobody faces "$QUERY"
  check "another user's library: faces as nobody lists the photo's face" eval 'rc_is 0 && out_has "1 face;"'
  as_nobody search -q "$QUERY" --format json
  py "another user's library: search as nobody finds Tony Blair's other photos, nobody else" '
import json, sys
doc = json.load(open(sys.argv[1]))
paths = [m["path"] for m in doc["matches"]]
assert len(paths) == 4 and all("/Tony_Blair/" in p for p in paths), paths
assert doc["rebuild_in_progress"] is None' "$TMP/out"
  as_nobody search --face-id 1
  check "another user's library: search --face-id as nobody" eval 'rc_is 0 && out_has "RANK"'
  check "another user's library: nothing was written in its folder (no -wal, no -shm)" \
    eval '[ "$(listing "$LIB")" = "$before" ]'
  # A folder that nobody may write, over a file nobody may not: nothing of nobody's is left either.
  chmod 0777 "$LIB"
  as_nobody status
  check "a read-only library in a writable folder: status as nobody, exit 0, no -wal/-shm left" \
    eval 'rc_is 0 && [ "$(listing "$LIB")" = "$before" ]'
  chmod 0755 "$LIB"
  # A writer that stopped without merging its -wal: the changes are read, nothing is added.
  cp "$FACESEARCH_DB" "$TMP/stopped.db"
  "$PY" -c '
import os, sqlite3, sys
c = sqlite3.connect(sys.argv[1])
c.execute("DELETE FROM images WHERE path LIKE ?", ("%/Hugo_Chavez/%",))
c.commit()
os._exit(0)  # no close: the -wal and -shm stay, as after a kill -9' "$TMP/stopped.db"
  chmod a+r "$TMP/stopped.db"*
  stopped_before=$(ls "$TMP"/stopped.db*)
  as_nobody status --db "$TMP/stopped.db"
  check "a stopped writer's -wal: nobody's status reads it (5 photos fewer), leaves the files as they were" \
    eval 'rc_is 0 && out_has "Images       $((FILES - 5)) " && [ "$(ls "$TMP"/stopped.db*)" = "$stopped_before" ]'
  rm "$TMP/stopped.db-shm"
  as_nobody status --db "$TMP/stopped.db"
  check "a stopped writer's -wal without its -shm: nobody gets an error saying who can merge it" \
    eval 'rc_is 1 && err_has "not yet merged" && err_has "its owner" && [ ! -e "$TMP/stopped.db-shm" ]'
fi

# ---- a 0-byte file is no library for a reader ------------------------------------------------------
EMPTY=$TMP/empty.db
: >"$EMPTY"
for cmd in status "faces $QUERY" "search -q $QUERY" "search --face-id 1"; do
  fs $cmd --db "$EMPTY"
  check "0-byte library: $(echo "$cmd" | cut -d' ' -f1-2) says it is an empty file, exit 1, writes nothing" \
    eval 'rc_is 1 && err_has "empty file (0 bytes), not a facesearch library" && [ ! -s "$EMPTY" ] && [ ! -e "$EMPTY-wal" ] && [ ! -e "$EMPTY-journal" ]'
done
fs index --quiet --db "$EMPTY" "$PHOTOS/Tony_Blair"
check "0-byte library: index may make it a new library" eval 'rc_is 0 && out_has "5 added"'

# ---- a damaged page of the faces table -------------------------------------------------------------
# The library is closed (its -wal merged): 4 KB of random bytes over the faces table's root page.
"$PY" -c '
import os, sqlite3, sys
c = sqlite3.connect(sys.argv[1])
size = c.execute("PRAGMA page_size").fetchone()[0]
root = c.execute("SELECT rootpage FROM sqlite_master WHERE name = ?", ("faces",)).fetchone()[0]
c.close()
assert not os.path.exists(sys.argv[1] + "-wal") or os.path.getsize(sys.argv[1] + "-wal") == 0
with open(sys.argv[1], "r+b") as f:
    f.seek((root - 1) * size)
    f.write(os.urandom(4096))' "$FACESEARCH_DB"
fs status
check "damaged faces page: status exits 1 naming the library, the damage and the remedy" \
  eval 'rc_is 1 && err_has "$FACESEARCH_DB is damaged in its stored faces" && err_has "quick_check" && err_has "facesearch index --rebuild"'
fs index
check "damaged faces page: index refuses to write into it, with the remedy" \
  eval 'rc_is 1 && err_has "is damaged in its stored faces" && err_has "facesearch index --rebuild" && err_lacks "0 errors"'
fs search -q "$QUERY" --index exact
check "damaged faces page: search says it is damaged and how to recover" \
  eval 'rc_is 1 && err_has "is damaged" && err_has "facesearch index --rebuild"'
fs index --rebuild --quiet
check "damaged faces page: index --rebuild repairs it (a fresh file, the folders kept)" \
  eval 'rc_is 0 && out_has "Indexed $FILES files" && out_has "$FILES added" && [ ! -e "$FACESEARCH_DB.rebuild" ]'
fs status --format json
py "after the rebuild: status is whole, no rebuild pending" '
import json, sys
doc = json.load(open(sys.argv[1]))
assert doc["images"] == 27 and doc["faces"] >= 27, doc
assert doc["rebuild_in_progress"] is None, doc' "$TMP/out"
fs search -q "$QUERY" --format json
py "after the rebuild: search finds Tony Blair's other photos" '
import json, sys
paths = [m["path"] for m in json.load(open(sys.argv[1]))["matches"]]
assert len(paths) == 4 and all("/Tony_Blair/" in p for p in paths), paths' "$TMP/out"

# A damaged library of another pack is rebuilt with its own pack, not the default one. (The synthetic
# buffalo_l that the test build makes: its faces mean nothing, only which pack the library names.)
damage_table() {
  "$PY" -c '
import os, sqlite3, sys
c = sqlite3.connect(sys.argv[1])
size = c.execute("PRAGMA page_size").fetchone()[0]
root = c.execute("SELECT rootpage FROM sqlite_master WHERE name = ?", (sys.argv[2],)).fetchone()[0]
c.close()
with open(sys.argv[1], "r+b") as f:
    f.seek((root - 1) * size)
    f.write(os.urandom(size))' "$1" "$2"
}
SYNTHETIC=$(dirname "$BIN")/tests/synthetic_models/insightface
if [ -d "$SYNTHETIC/buffalo_l" ]; then
  OTHER=$TMP/other.db
  FACESEARCH_MODELS= FACESEARCH_INSIGHTFACE_ROOT=$SYNTHETIC fs index --quiet --model buffalo_l --db "$OTHER" "$PHOTOS/Tony_Blair"
  check "another pack: a library made with buffalo_l" eval 'rc_is 0'
  damage_table "$OTHER" images
  FACESEARCH_MODELS= FACESEARCH_INSIGHTFACE_ROOT=$SYNTHETIC fs index --rebuild --quiet --db "$OTHER"
  check "another pack: index --rebuild of the damaged library works" eval 'rc_is 0 && out_has "5 added"'
  fs status --db "$OTHER"
  check "another pack: the rebuilt library still names its own pack" eval 'rc_is 0 && out_has "Model        buffalo_l"'
else
  echo "skip the other-pack rebuild check: no synthetic models in $SYNTHETIC"
fi

# ---- searching during an unfinished rebuild ---------------------------------------------------------
# A rebuild stays unfinished until a run re-reads every folder of the library. Made deterministic, with
# no signal to time: one of the two folders is away during `index --rebuild` (exit 3), so the library
# holds only the other's photos until the folder is back and a run completes.
BIG=$TMP/big
mkdir -p "$BIG/a" "$BIG/b"
n=0
for person in $(ls "$DATA/../lfw_dev/people" | head -12); do
  if [ $n -lt 8 ]; then cp -r "$DATA/../lfw_dev/people/$person" "$BIG/a/"; else cp -r "$DATA/../lfw_dev/people/$person" "$BIG/b/"; fi
  n=$((n + 1))
done
BIG_FILES=$(find "$BIG" -type f | wc -l)
BIG_QUERY=$(find "$BIG/a" -type f | sort | head -1)
export FACESEARCH_DB=$TMP/big.db
fs index --quiet "$BIG/a" "$BIG/b"
check "rebuild: a library of $BIG_FILES photos in two folders" eval 'rc_is 0'
mv "$BIG/b" "$TMP/b_away"
fs index --rebuild --quiet
check "rebuild with a folder away: exit 3, the rebuild is not over" eval 'rc_is 3 && err_has "cannot read folder $BIG/b"'
fs search -q "$BIG_QUERY"
check "rebuild: search warns that the library is being rebuilt and results are partial" \
  eval 'rc_is 0 && err_has "the library is being rebuilt (" && err_has " of $BIG_FILES photos so far): results are partial"'
fs search -q "$BIG_QUERY" --format json --quiet
py "rebuild: search JSON carries it" '
import json, sys
r = json.load(open(sys.argv[1]))["rebuild_in_progress"]
assert r["images_before"] == int(sys.argv[2]) and 0 < r["images_done"] < r["images_before"], r' "$TMP/out" "$BIG_FILES"
fs faces "$BIG_QUERY"
check "rebuild: faces warns too" eval 'rc_is 0 && err_has "the library is being rebuilt ("'
fs status --format json
py "rebuild: status JSON carries it" '
import json, sys
assert json.load(open(sys.argv[1]))["rebuild_in_progress"]["images_before"] == int(sys.argv[2])' "$TMP/out" "$BIG_FILES"
mv "$TMP/b_away" "$BIG/b"
fs index --quiet
check "rebuild: a complete index run finishes it" eval 'rc_is 0 && out_has "Indexed $BIG_FILES files"'
fs search -q "$BIG_QUERY"
check "rebuild: once finished, search no longer warns" eval 'rc_is 0 && err_lacks "being rebuilt"'
fs status
check "rebuild: once finished, status no longer warns" eval 'rc_is 0 && err_lacks "being rebuilt" && out_has "Images       $BIG_FILES "'

finish
