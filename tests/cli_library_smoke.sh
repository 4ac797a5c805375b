#!/usr/bin/env bash
# CLI smoke tests of the library commands: the real facesearch binary indexing a temporary copy of a
# few folders of ../shared/testdata/faces, then status, search (against the on-the-fly search of the
# same folder), faces, --face-id, incremental re-indexing, and broken or missing libraries.
# Usage: bash tests/cli_library_smoke.sh PATH/TO/facesearch   (from the repository root; CTest does this)
# Prints "N passed, M failed". Needs the models (`make setup`, or FACESEARCH_MODELS) and /usr/bin/python3.
source "$(dirname "$0")/smoke_lib.sh" "$@"

MODELS=${FACESEARCH_MODELS:-${XDG_DATA_HOME:-$HOME/.local/share}/facesearch/models/dlib-faceapi}
# Never touch the user's own library: every command without --db uses this one.
export FACESEARCH_DB=$TMP/library.db

# ---- the photos: four LFW people, a two-person photo, two unreadable files -----------------------
PHOTOS=$TMP/photos
mkdir -p "$PHOTOS"
for person in Tony_Blair Vladimir_Putin Laura_Bush Serena_Williams; do cp -r "$DATA/people/$person" "$PHOTOS/"; done
cp "$DATA/scenes/fr_obama_and_biden.jpg" "$DATA/bad/zero_bytes.jpg" "$DATA/bad/text_file_named.png" "$PHOTOS/"
QUERY=$PHOTOS/Tony_Blair/lfw_Tony_Blair_0001.jpg  # Tony Blair (SSD also finds a cut-off face at the left edge)
FILES=23

# ---- help ---------------------------------------------------------------------------------------
fs --help
check "--help shows the workflow: index once, search, re-index, --face-id" \
  eval 'rc_is 0 && out_has "facesearch index ~/Pictures" && out_has "facesearch search --query me.jpg" && out_has "--face-id" && out_has "facesearch status"'
fs index --help
check "index --help teaches: workflow, what the counts mean, library, exit statuses" \
  eval 'rc_is 0 && out_has "--rebuild" && out_has "moved" && out_has "FACESEARCH_DB" && out_has "Exit status" && out_has "130"'
fs search --help
check "search --help: library and --target modes, --face-id, --all-faces, --index" \
  eval 'rc_is 0 && out_has "--face-id" && out_has "--all-faces" && out_has "--index" && out_has "facesearch index ~/Pictures" && out_has "--target"'
fs faces --help
check "faces --help explains ID and FACE" eval 'rc_is 0 && out_has "--face-id" && out_has "reading order"'
fs status --help
check "status --help" eval 'rc_is 0 && out_has "--format" && out_has "Exit status"'

# ---- a library that does not exist yet ----------------------------------------------------------
fs search -q "$QUERY"
check "search without a library: exit 1, says to run index or use --target" \
  eval 'rc_is 1 && err_has "facesearch index" && err_has "--target" && err_has "$FACESEARCH_DB"'
fs status
check "status without a library: exit 1, says to run index" eval 'rc_is 1 && err_has "facesearch index"'
fs index
check "index with no folder and no library: usage error, no library file left behind" \
  eval 'rc_is 2 && err_has "facesearch index ~/Pictures" && [ ! -e "$FACESEARCH_DB" ]'
fs index "$TMP/no_such_folder"
check "index of a missing folder: exit 1 naming it, no library file left behind" \
  eval 'rc_is 1 && err_has "no_such_folder" && [ ! -e "$FACESEARCH_DB" ]'
XDG_DATA_HOME=$TMP/xdg FACESEARCH_DB='' fs status
check "default library: \$XDG_DATA_HOME/facesearch/library.db" eval 'rc_is 1 && err_has "$TMP/xdg/facesearch/library.db"'
fs search --query "$DATA/people/Elon/deepface_img18.jpg" --models "$TMP/no_models"
check "a missing library is reported before missing models" eval 'rc_is 1 && err_has "no library at" && err_has "facesearch index"'

# ---- index ---------------------------------------------------------------------------------------
fs index "$PHOTOS"
check "index: exit 0, summary counts, unreadable files named on stderr as they fail" \
  eval 'rc_is 0 && out_has "Indexed $FILES files" && out_has "21 added" && out_has "2 errors" && out_has "library $FACESEARCH_DB ($FILES images" && err_has "facesearch: skipped $PHOTOS/zero_bytes.jpg: " && err_has "skipped $PHOTOS/text_file_named.png: "'
check "index: a skipped line names its file once" eval '! grep -qF "zero_bytes.jpg: $PHOTOS" "$TMP/err"'
check "index: the flat vectors file is saved next to the library (no graph below 200k faces)" \
  eval '[ -s "$FACESEARCH_DB.vectors" ] && [ ! -e "$FACESEARCH_DB.hnsw" ] && [ ! -e "$FACESEARCH_DB.vectors.tmp" ]'

fs status --format json
cp "$TMP/out" "$TMP/status.json"
check "status --format json: exit 0" rc_is 0
py "status JSON: image count, errors listed with messages, model, roots, times" '
import json, sys
d = json.load(open(sys.argv[1]))
assert d["images"] == int(sys.argv[2]) and d["images_ok"] == d["images"] - 2 and d["images_error"] == 2, d
assert d["faces"] >= 21, d["faces"]
assert sorted(e["path"].rsplit("/", 1)[1] for e in d["errors"]) == ["text_file_named.png", "zero_bytes.jpg"], d["errors"]
assert all(e["message"] for e in d["errors"])
assert d["model"]["name"] == "mobilefacenet-faceapi" and d["model"]["fingerprint"] and d["schema_version"] >= 1 and d["embedding_dim"] == 512, d["model"]
assert d["roots"] == [sys.argv[3]], d["roots"]
assert d["file_bytes"] > 0 and d["created_at"] and d["updated_at"]
' "$TMP/status.json" "$FILES" "$PHOTOS"

fs status
check "status table: path, size, counts, roots, the files with errors" \
  eval 'rc_is 0 && out_has "$FACESEARCH_DB" && grep -qE "^Size +[0-9.]+ (B|KiB|MiB)" "$TMP/out" && grep -qE "^Images +$FILES \(21 ok, 2 with errors\)" "$TMP/out" && out_has "$PHOTOS" && out_has "$PHOTOS/zero_bytes.jpg: empty file" && out_has "Last update"'

# ---- search: the library against the on-the-fly search of the same folder ------------------------
fs search -q "$QUERY" --format json
cp "$TMP/out" "$TMP/lib.json"
check "library search (no --target): exit 0" rc_is 0
fs search -q "$QUERY" -t "$PHOTOS" --format json --quiet
cp "$TMP/out" "$TMP/fly.json"
py "library search: finds the other Tony_Blair photos, not the query, library and index named" '
import json, sys
d = json.load(open(sys.argv[1]))
paths = [m["path"] for m in d["matches"]]
found = {p.rsplit("/", 1)[1] for p in paths if "/Tony_Blair/" in p}
expected = {"lfw_Tony_Blair_0029.jpg", "lfw_Tony_Blair_0058.jpg", "lfw_Tony_Blair_0087.jpg", "lfw_Tony_Blair_0116.jpg"}
assert expected <= found, f"missing: {expected - found}"
assert "/Tony_Blair/" in paths[0] and not any(p.endswith("_0001.jpg") for p in paths), paths
assert d["library"] == sys.argv[2] and d["index"] == "exact", (d["library"], d["index"])
s = d["stats"]
assert s["images"] == int(sys.argv[3]) and s["faces"] >= 21 and s["query_ms"] >= 0, s
' "$TMP/lib.json" "$FACESEARCH_DB" "$FILES"
py "library search = on-the-fly search of the same folder: same paths, same scores to 3 decimals" '
import json, sys
lib = json.load(open(sys.argv[1]))["matches"]
fly = json.load(open(sys.argv[2]))["matches"]
assert [m["path"] for m in lib] == [m["path"] for m in fly], ([m["path"] for m in lib], [m["path"] for m in fly])
for a, b in zip(lib, fly):
    assert abs(a["similarity"] - b["similarity"]) < 5e-4, (a, b)
    assert a["face_index"] == b["face_index"], (a, b)
' "$TMP/lib.json" "$TMP/fly.json"

# --all-faces with every face over the threshold (-1, the lowest): the two-person photo is listed twice. (The on-the-fly
# --all-faces is checked in cli_smoke.sh; one scan of the folder above is enough here.)
fs search -q "$QUERY" --all-faces --threshold -1 --format json
cp "$TMP/out" "$TMP/lib_all.json"
fs search -q "$QUERY" --threshold -1 --format json
cp "$TMP/out" "$TMP/lib_best.json"
py "--all-faces: every face of a group photo; without it the best face of each photo" '
import json, sys
every, best, fly = (json.load(open(f))["matches"] for f in sys.argv[1:4])
group = [m for m in every if m["path"].endswith("fr_obama_and_biden.jpg")]
assert len(group) == 3 and sorted(m["face_index"] for m in group) == [0, 1, 2], group  # Obama, Biden, a girl
top = {}
for m in every:
    if m["path"] not in top or m["similarity"] > top[m["path"]]["similarity"]:
        top[m["path"]] = m
assert sorted((m["path"], m["face_index"]) for m in best) == sorted((m["path"], m["face_index"]) for m in top.values())
sims = {(m["path"], m["face_index"]): m["similarity"] for m in every}
for m in fly:  # the on-the-fly matches over the default threshold are among them, with the same scores
    assert abs(sims[(m["path"], m["face_index"])] - m["similarity"]) < 5e-4, m
' "$TMP/lib_all.json" "$TMP/lib_best.json" "$TMP/fly.json"

fs search -q "$QUERY"
check "library search table: header names the library, summary in ms" \
  eval 'rc_is 0 && out_has "Library $FACESEARCH_DB" && grep -qE "^[0-9]+ match(es)? in [0-9]+ images? \(.* searched\) in [0-9.]+ ms" "$TMP/out"'
py "library search table lists the JSON paths in order" '
import json, sys
want = [x["path"] for x in json.load(open(sys.argv[1]))["matches"]]
lines = open(sys.argv[2]).read().splitlines()
start = next(i for i, l in enumerate(lines) if l.split()[:2] == ["RANK", "SIMILARITY"]) + 1
got = [l.split(None, 4)[4] for l in lines[start:lines.index("", start)]]
assert got == want, (got, want)
' "$TMP/lib.json" "$TMP/out"

fs search -q "$QUERY" --format csv
py "library search CSV: same rows as JSON" '
import csv, json, sys
m = json.load(open(sys.argv[1]))["matches"]
rows = list(csv.reader(open(sys.argv[2], newline="")))
assert rows[0][0] == "path" and [r[0] for r in rows[1:]] == [x["path"] for x in m]
' "$TMP/lib.json" "$TMP/out"

fs search -q "$QUERY" --index approx --top-k 2 --format json
py "--index approx --top-k 2: an HNSW index, the two best exact matches on a small library" '
import json, sys
a, e = json.load(open(sys.argv[1])), json.load(open(sys.argv[2]))
assert a["index"] == "hnsw", a["index"]
assert [m["path"] for m in a["matches"]] == [m["path"] for m in e["matches"]][:2], (a["matches"], e["matches"])
' "$TMP/out" "$TMP/lib.json"

# ---- faces and --face-id ----------------------------------------------------------------------------
fs faces "$QUERY" --format json
cp "$TMP/out" "$TMP/faces.json"
check "faces PHOTO --format json: exit 0" rc_is 0
py "faces: the faces of the photo, with ids, indexes in order, boxes, scores, the detector that found each" '
import json, sys
d = json.load(open(sys.argv[1]))
assert d["path"] == sys.argv[2] and d["status"] == "ok", d
f = d["faces"]
assert len(f) >= 1 and [x["index"] for x in f] == list(range(len(f))), f
assert all(x["detector"].split("/")[0] in ("mediapipe_face_full", "ssd_mobilenetv1") for x in f), f
assert all(isinstance(x["id"], int) and x["id"] > 0 and 0 < x["score"] <= 1 for x in f), f
assert all(x["box"]["x2"] > x["box"]["x1"] and x["box"]["y2"] > x["box"]["y1"] for x in f), f
' "$TMP/faces.json" "$QUERY"
# The larger face is Tony Blair's.
FACE_ID=$("$PY" -c '
import json, sys
f = json.load(open(sys.argv[1]))["faces"]
area = lambda b: (b["x2"] - b["x1"]) * (b["y2"] - b["y1"])
print(max(f, key=lambda x: area(x["box"]))["id"])' "$TMP/faces.json")

(cd "$PHOTOS/Tony_Blair" && timeout 60 "$BIN" faces ./../Tony_Blair/lfw_Tony_Blair_0001.jpg >"$TMP/out" 2>"$TMP/err")
rc=$?
check "faces with a relative path: table with the ids" \
  eval 'rc_is 0 && grep -qE "^ *ID +FACE +BOX +SCORE +DETECTOR" "$TMP/out" && grep -qE "(ssd_mobilenetv1|mediapipe_face_full)" "$TMP/out" && grep -qE "^ *$FACE_ID +[01] " "$TMP/out" && out_has "--face-id"'

fs search --face-id "$FACE_ID" --format json
cp "$TMP/out" "$TMP/byface.json"
check "search --face-id: exit 0" rc_is 0
py "search --face-id: the other Tony_Blair photos, never the face own photo" '
import json, sys
d = json.load(open(sys.argv[1]))
paths = [m["path"] for m in d["matches"]]
assert d["query_face_id"] == int(sys.argv[2]) and d["query"] == sys.argv[3], (d["query_face_id"], d["query"])
assert sys.argv[3] not in paths, "the face own photo is listed"
assert paths and all("/Tony_Blair/" in p for p in paths[:4]), paths
' "$TMP/byface.json" "$FACE_ID" "$QUERY"

SECOND_ID=$("$PY" -c '
import json, sys
print(json.load(open(sys.argv[1]))["matches"][0]["path"])' "$TMP/byface.json")
fs faces "$SECOND_ID" --format json
SECOND_ID=$("$PY" -c '
import json, sys
print(json.load(open(sys.argv[1]))["faces"][0]["id"])' "$TMP/out")
fs search --face-id "$FACE_ID" --face-id "$SECOND_ID" --format json
py "search with two --face-id: one person, both photos left out, the ids and the combination named" '
import json, sys
d = json.load(open(sys.argv[1]))
assert d["query_face_ids"] == [int(sys.argv[2]), int(sys.argv[3])] and d["combined"] == "mean", d
assert len(d["queries"]) == 2 and not set(d["queries"]) & {m["path"] for m in d["matches"]}, d
assert d["matches"] and all("/Tony_Blair/" in m["path"] for m in d["matches"][:3]), d["matches"]
' "$TMP/out" "$FACE_ID" "$SECOND_ID"

fs search --face-id 999999
check "search --face-id of an unknown face: exit 1, says how to find ids" eval 'rc_is 1 && err_has "999999" && err_has "facesearch faces"'
fs faces "$DATA/noface/dlib_dog.jpg"
check "faces of a photo not in the library: exit 1, says to index it" eval 'rc_is 1 && err_has "not in library" && err_has "facesearch index"'
fs faces "$PHOTOS/zero_bytes.jpg"
check "faces of a file recorded with an error: says why" eval 'rc_is 0 && out_has "could not be read" && out_has "empty file"'

# ---- usage errors --------------------------------------------------------------------------------
fs search --face-id "$FACE_ID" -q "$QUERY"
check "--face-id with --query: exit 2" eval 'rc_is 2 && err_has "--face-id" && err_has "--query"'
fs search --face-id "$FACE_ID" -t "$PHOTOS"
check "--face-id with --target: exit 2" eval 'rc_is 2 && err_has "--face-id" && err_has "--target"'
fs search
check "neither --query nor --face-id: exit 2" eval 'rc_is 2 && err_has "--query" && err_has "--face-id"'
fs search -q "$QUERY" -t "$PHOTOS" --db "$TMP/other.db"
check "--db with --target: exit 2" eval 'rc_is 2 && err_has "--db"'
fs search -q "$QUERY" --index fast
check "bad --index: exit 2" eval 'rc_is 2 && err_has "--index"'
fs search --face-id abc
check "bad --face-id: exit 2" eval 'rc_is 2 && err_has "--face-id"'
fs index "$PHOTOS" --no-such-flag
check "index: unknown option, exit 2" eval 'rc_is 2 && err_has "--no-such-flag"'
fs status extra_argument
check "status: unexpected argument, exit 2" eval 'rc_is 2 && err_has "extra_argument"'

# ---- incremental re-indexing ---------------------------------------------------------------------
fs index
check "re-index with nothing changed: all unchanged, nothing analysed" \
  eval 'rc_is 0 && out_has "Indexed $FILES files" && out_has "$FILES unchanged, 0 added, 0 updated, 0 moved, 0 touched, 0 deleted, 0 errors"'

cp "$DATA/people/Hugo_Chavez/$(ls "$DATA/people/Hugo_Chavez" | head -n 1)" "$PHOTOS/new_photo.jpg"
rm "$PHOTOS/Laura_Bush/lfw_Laura_Bush_0033.jpg"
mv "$PHOTOS/Tony_Blair/lfw_Tony_Blair_0029.jpg" "$PHOTOS/renamed_blair.jpg"
fs index --format json
cp "$TMP/out" "$TMP/reindex.json"
py "after add + delete + mv: 1 added, 1 deleted, 1 moved, the rest unchanged" '
import json, sys
d = json.load(open(sys.argv[1]))
counts = {k: d[k] for k in ("added", "deleted", "moved", "updated", "touched", "errors")}
assert counts == {"added": 1, "deleted": 1, "moved": 1, "updated": 0, "touched": 0, "errors": 0}, counts
assert d["unchanged"] == int(sys.argv[2]) - 2 and d["files"] == int(sys.argv[2]), d
assert d["library"]["images"] == int(sys.argv[2]) and not d["interrupted"], d
' "$TMP/reindex.json" "$FILES"
fs search --face-id "$FACE_ID" --format json
py "a moved photo keeps its faces and is found at its new path" '
import json, sys
paths = [m["path"] for m in json.load(open(sys.argv[1]))["matches"]]
assert sys.argv[2] + "/renamed_blair.jpg" in paths, paths
assert not any(p.endswith("lfw_Tony_Blair_0029.jpg") for p in paths), paths
' "$TMP/out" "$PHOTOS"

# ---- broken, foreign and unwritable libraries -------------------------------------------------------
head -c 8192 /dev/urandom >"$TMP/garbage.db"
fs status --db "$TMP/garbage.db"
check "garbage library, status: exit 1, not a library or corrupted" \
  eval 'rc_is 1 && err_has "not a facesearch library or is corrupted" && err_has "garbage.db"'
fs search -q "$QUERY" --db "$TMP/garbage.db"
check "garbage library, search: exit 1, not a library or corrupted" eval 'rc_is 1 && err_has "not a facesearch library or is corrupted"'
fs index "$PHOTOS" --db "$TMP/garbage.db"
check "garbage library, index: exit 1 and the file is left alone" \
  eval 'rc_is 1 && err_has "not a facesearch library or is corrupted" && [ "$(stat -c %s "$TMP/garbage.db")" -eq 8192 ]'

"$PY" -c 'import sqlite3, sys; c = sqlite3.connect(sys.argv[1]); c.execute("CREATE TABLE t(x)"); c.commit()' "$TMP/foreign.db"
fs status --db "$TMP/foreign.db"
check "another program's SQLite file: exit 1, not a facesearch library" eval 'rc_is 1 && err_has "not a facesearch library"'

fs index "$PHOTOS/Tony_Blair" --db /proc/facesearch.db
check "--db in an unwritable place (/proc): exit 1, says it cannot write" eval 'rc_is 1 && err_has "/proc/facesearch.db" && err_has "cannot"'
touch "$TMP/a_file"
fs index "$PHOTOS/Tony_Blair" --db "$TMP/a_file/library.db"
check "--db under a regular file: exit 1, says it cannot create it" eval 'rc_is 1 && err_has "a_file/library.db" && err_has "cannot"'
fs index "$PHOTOS/Tony_Blair" --db "$TMP"
check "--db naming a folder: usage error" eval 'rc_is 2 && err_has "folder"'

# A library made with other models (another aligner padding changes every embedding): refused until --rebuild.
OTHER_MODELS=$TMP/other_models
mkdir -p "$OTHER_MODELS"
for f in "$MODELS"/*; do ln -s "$f" "$OTHER_MODELS/$(basename "$f")"; done
rm "$OTHER_MODELS/manifest.json"
"$PY" -c '
import json, sys
m = json.load(open(sys.argv[1]))
m["aligner"]["padding"] = 0.3
json.dump(m, open(sys.argv[2], "w"), indent=2)' "$MODELS/manifest.json" "$OTHER_MODELS/manifest.json"
SMALL=$TMP/small
mkdir -p "$SMALL"
cp "$DATA/people/Serena_Williams/$(ls "$DATA/people/Serena_Williams" | head -n 1)" "$SMALL/"
fs index "$SMALL" --db "$TMP/small.db" --quiet
check "small library: exit 0, quiet keeps stderr empty" eval 'rc_is 0 && [ ! -s "$TMP/err" ] && out_has "1 added"'
fs index --db "$TMP/small.db" --models "$OTHER_MODELS"
check "library made with other models: exit 1, says to use --rebuild" eval 'rc_is 1 && err_has "--rebuild"'
fs search -q "$QUERY" --db "$TMP/small.db" --models "$OTHER_MODELS"
check "search a library made with other models: exit 1" eval 'rc_is 1 && err_has "model"'
fs index --db "$TMP/small.db" --models "$OTHER_MODELS" --rebuild --format json --quiet
py "--rebuild: re-indexes the known folders with the new models" '
import json, sys
d = json.load(open(sys.argv[1]))
assert d["added"] == 1 and d["library"]["images"] == 1, d
' "$TMP/out"

# More than 20 unreadable files: the table shows 20, JSON all.
BROKEN=$TMP/broken
mkdir -p "$BROKEN"
for i in $(seq -w 1 23); do : >"$BROKEN/empty_$i.jpg"; done
fs index "$BROKEN" --db "$TMP/broken.db" --quiet
check "index of unreadable files only: exit 0 (the run completed), 23 errors" eval 'rc_is 0 && out_has "23 errors"'
fs status --db "$TMP/broken.db"
check "status table: 20 errors listed, then '... and 3 more'" \
  eval 'rc_is 0 && [ "$(grep -c "empty_.*: empty file" "$TMP/out")" -eq 20 ] && out_has "... and 3 more"'
fs status --db "$TMP/broken.db" --format json
py "status JSON lists every error" 'import json, sys; assert len(json.load(open(sys.argv[1]))["errors"]) == 23' "$TMP/out"

# ---- Ctrl-C ------------------------------------------------------------------------------------------
# Ctrl-C while indexing stops cleanly: exit 130, the photos indexed so far are saved (the batch in hand
# too), the library stays usable, and the next run finishes the job. The signal comes at a known point
# on any machine: FACESEARCH_TEST_PAUSE_AFTER_BATCHES=1 (test-only, src/store/indexer.cpp) holds the run
# once its first batch is committed, with one more photo written into the next batch, until Ctrl-C. A
# batch is at most 32 photos and there are 65 here, so the pause always comes; with --jobs 2 at most 15
# more are in hand when the signal comes (an embedding batch, the queue, the workers), so some are left.
INT_PHOTOS=$TMP/interrupted_photos
mkdir -p "$INT_PHOTOS"
for person in Tony_Blair John_Salley John_Savage Angelina obama Jennifer Hugo_Chavez Mark amy; do
  cp -r "$DATA/people/$person" "$INT_PHOTOS/"
done
INT_FILES=$(find "$INT_PHOTOS" -type f | wc -l)
# --foreground: timeout then forwards our SIGINT to the binary once (without it, also to its process
# group, which is a second Ctrl-C and kills the binary as a second press does).
FACESEARCH_TEST_PAUSE_AFTER_BATCHES=1 timeout --foreground -s KILL 600 "$BIN" index "$INT_PHOTOS" --jobs 2 \
  --db "$TMP/interrupted.db" >"$TMP/out" 2>"$TMP/err" &
pid=$!
# Wait for the pause, or for the run to end without it (which fails below; a hang ends at the timeout).
paused=0
while kill -0 "$pid" 2>/dev/null; do
  if grep -qF "facesearch: test pause after batch 1" "$TMP/err"; then paused=1; break; fi
  sleep 0.05
done
# While it is held, readers see the committed batch (WAL: readers do not wait for the writer).
timeout 120 "$BIN" status --db "$TMP/interrupted.db" --format json >"$TMP/paused.json" 2>"$TMP/paused.err"
paused_rc=$?
timeout 120 "$BIN" search --query "$DATA/people/Tony_Blair/lfw_Tony_Blair_0001.jpg" --db "$TMP/interrupted.db" \
  --format json >"$TMP/during.json" 2>"$TMP/during.err"
during_rc=$?
kill -INT "$pid" 2>/dev/null
wait "$pid"
rc=$?
check "index held after its first committed batch (FACESEARCH_TEST_PAUSE_AFTER_BATCHES=1)" \
  eval '[ "$paused" -eq 1 ] && [ "$paused_rc" -eq 0 ]'
check "search while indexing runs: exit 0, valid JSON" \
  eval '[ "$during_rc" -eq 0 ] && "$PY" -c "import json,sys; json.load(open(sys.argv[1]))" "$TMP/during.json"'
py "search while indexing runs sees the committed photos, no more and no fewer" '
import json, sys
held = json.load(open(sys.argv[1]))["images"]
seen = json.load(open(sys.argv[2]))["stats"]["images"]
assert 1 <= held <= 32 and seen == held, (held, seen)
' "$TMP/paused.json" "$TMP/during.json"
check "Ctrl-C during index: exit 130, says so" \
  eval 'rc_is 130 && out_has "Interrupted after" && err_has "interrupted"'
fs status --db "$TMP/interrupted.db" --format json
cp "$TMP/out" "$TMP/interrupted.json"
check "an interrupted library opens and reports its images" eval 'rc_is 0 && out_has "\"images\""'
py "Ctrl-C saves the photos indexed so far, the batch in hand too, and leaves some to do" '
import json, sys
held = json.load(open(sys.argv[1]))["images"]
saved = json.load(open(sys.argv[2]))["images"]
assert held < saved < int(sys.argv[3]), (held, saved, sys.argv[3])
' "$TMP/paused.json" "$TMP/interrupted.json" "$INT_FILES"
fs index --db "$TMP/interrupted.db" --format json
check "index after Ctrl-C: exit 0" rc_is 0
py "index after Ctrl-C finishes the job: the saved photos unchanged, the rest added" '
import json, sys
saved = json.load(open(sys.argv[2]))["images"]
d = json.load(open(sys.argv[1]))
total = int(sys.argv[3])
assert not d["interrupted"] and d["files"] == total, d
assert d["unchanged"] == saved and d["added"] + d["errors"] == total - saved, (saved, d)
assert d["library"]["images"] == total and d["updated"] == d["deleted"] == 0, d
' "$TMP/out" "$TMP/interrupted.json" "$INT_FILES"

# ---- serve: the library over HTTP until Ctrl-C ------------------------------------------------------
free_port() { "$PY" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
# The server says "Open URL" once it listens: wait for that line (not for a time), up to 120 s on a
# slow machine, and stop early if the server died.
wait_for_open() {  # FILE PID
  for _ in $(seq 1200); do
    grep -q "^Open http" "$1" && return 0
    kill -0 "$2" 2>/dev/null || return 1
    sleep 0.1
  done
  return 1
}
# Sends SIGNAL to PID and sets rc to its exit status; rc=none when it has not exited 60 s later.
stop_server() {  # PID SIGNAL
  kill "-$2" "$1"
  for _ in $(seq 600); do kill -0 "$1" 2>/dev/null || break; sleep 0.1; done
  if kill -0 "$1" 2>/dev/null; then kill -KILL "$1"; wait "$1"; rc=none; else wait "$1"; rc=$?; fi
}
PORT=$(free_port)
"$BIN" serve --port "$PORT" --cache-dir "$TMP/image-cache" --cache-mb 8 >"$TMP/serve.out" 2>"$TMP/serve.err" &
SERVE=$!
wait_for_open "$TMP/serve.out" "$SERVE"
check "serve: prints the address to open" eval 'grep -q "^Open http://127.0.0.1:$PORT/$" "$TMP/serve.out"'
py "serve: the API answers with the library status, and the page is there" '
import json, sys, urllib.request
base = "http://127.0.0.1:" + sys.argv[1]
st = json.load(urllib.request.urlopen(base + "/api/v1/status", timeout=30))
assert st["photos"] > 0 and st["model"], st
page = urllib.request.urlopen(base + "/", timeout=30)
assert "text/html" in page.headers["Content-Type"] and b"facesearch" in page.read()
' "$PORT"
py "serve --cache-dir: a face crop is made once, then answered from the folder given" '
import sys, urllib.request
url = "http://127.0.0.1:" + sys.argv[1] + "/api/v1/faces/1/crop?size=96"
first = urllib.request.urlopen(url, timeout=30)
again = urllib.request.urlopen(url, timeout=30)
assert (first.headers["X-Cache"], again.headers["X-Cache"]) == ("miss", "hit"), (first.headers["X-Cache"], again.headers["X-Cache"])
assert first.read() == again.read()
' "$PORT"
check "serve --cache-dir: the crop is a file in that folder" eval '[ "$(find "$TMP/image-cache" -name "*.jpg" | wc -l)" = 1 ]'
timeout 120 "$BIN" serve --port "$PORT" >"$TMP/out" 2>"$TMP/err"   # bounded: if it could listen, it would serve
rc=$?
check "serve on a port in use: exit 1, says it cannot listen" eval 'rc_is 1 && err_has "cannot listen" && err_has "$PORT"'
stop_server "$SERVE" INT
check "serve: Ctrl-C stops it with status 130" eval '[ "$rc" = 130 ] && grep -q "stopped" "$TMP/serve.err"'
fs serve --host 0.0.0.0 --port 0
check "serve --port 0: usage error" eval 'rc_is 2 && err_has "--port"'
PORT=$(free_port)
"$BIN" serve --host 0.0.0.0 --port "$PORT" --cache-mb 0 >"$TMP/serve.out" 2>"$TMP/serve.err" &
SERVE=$!
wait_for_open "$TMP/serve.out" "$SERVE"
check "serve on all addresses: a generated token in the printed address, and a warning" \
  eval 'grep -qE "^Open http://0.0.0.0:$PORT/\?token=[0-9a-f]{32}$" "$TMP/serve.out" && grep -q "token" "$TMP/serve.err"'
py "serve on all addresses: requests without the token are refused (401)" '
import sys, urllib.request, urllib.error
try:
    urllib.request.urlopen("http://127.0.0.1:" + sys.argv[1] + "/api/v1/status", timeout=30)
    raise SystemExit("served without the token")
except urllib.error.HTTPError as e:
    assert e.code == 401, e.code
' "$PORT"
stop_server "$SERVE" TERM
check "serve: SIGTERM stops it with status 143" eval '[ "$rc" = 143 ]'

finish
