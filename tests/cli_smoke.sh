#!/usr/bin/env bash
# CLI smoke tests: the real facesearch binary on the photos in ../shared/testdata/faces.
# Usage: bash tests/cli_smoke.sh PATH/TO/facesearch   (from the repository root; CTest does this)
# Checks exit statuses, messages and the three output formats; prints "N passed, M failed".
# Needs the models (`make setup`, or FACESEARCH_MODELS) and /usr/bin/python3 for JSON and CSV.
source "$(dirname "$0")/smoke_lib.sh" "$@"

QUERY=$DATA/people/Tony_Blair/lfw_Tony_Blair_0001.jpg
NOFACE=$DATA/noface/opencv_fruits.jpg
# Never touch the user's own library (search without --target reads it): point at one that is not there.
export FACESEARCH_DB=$TMP/no_library.db

# ---- help, version, usage errors ---------------------------------------------------------------
fs --version
check "--version exits 0 and prints the version" eval 'rc_is 0 && out_has "facesearch " && grep -qE "[0-9]+\.[0-9]+" "$TMP/out"'

fs --help
check "--help exits 0, shows usage and the commands" \
  eval 'rc_is 0 && out_has "Usage" && out_has "search" && out_has "index" && out_has "faces" && out_has "status"'

fs search --help
check "search --help teaches: flags, score, models, exit statuses" \
  eval 'rc_is 0 && out_has "Usage" && out_has "--query" && out_has "--target" && out_has "higher means more alike" && out_has "FACESEARCH_MODELS" && out_has "Exit status"'

fs
check "no subcommand: help on stderr, exit 2" eval 'rc_is 2 && err_has "Usage"'

fs --no-such-flag
check "unknown top-level option: exit 2" eval 'rc_is 2 && err_has "--no-such-flag"'

fs search -q "$QUERY" -t "$DATA/noface" --no-such-flag
check "unknown search option: exit 2 naming it" eval 'rc_is 2 && err_has "--no-such-flag"'

fs search -q "$QUERY"
check "no --target and no library: exit 1, says to index first or use --target" \
  eval 'rc_is 1 && err_has "no_library.db" && err_has "facesearch index" && err_has "--target"'

fs search -t "$DATA/noface"
check "missing --query: exit 2" eval 'rc_is 2 && err_has "--query"'

fs search -q "$QUERY" -t "$DATA/noface" --det-size 100
check "--det-size not a multiple of 32: exit 2 naming the rule" eval 'rc_is 2 && err_has "multiple of 32"'

fs search -q "$QUERY" -t "$DATA/noface" --det-size 1280
check "--det-size with the dlib pack (fixed-size SSD): exit 2, says what it is for" \
  eval 'rc_is 2 && err_has "SCRFD and YuNet" && err_has "--smallest-face"'

fs search -q "$QUERY" -t "$DATA/noface" --index exact
check "--index with --target: exit 2" eval 'rc_is 2 && err_has "--index"'

fs search -q "$QUERY" -t "$DATA/noface" --detector fastest
check "bad --detector: exit 2 naming the choices" eval 'rc_is 2 && err_has "--detector" && err_has "mediapipe"'

fs search -q "$QUERY" -t "$DATA/people/Tony_Blair" --detector ssd --format json --quiet
cp "$TMP/out" "$TMP/ssd.json"
fs search -q "$QUERY" -t "$DATA/people/Tony_Blair" --detector mediapipe --format json --quiet
py "--detector ssd and --detector mediapipe: both find the person in most of the folder's photos" '
import json, sys
a, b = json.load(open(sys.argv[1])), json.load(open(sys.argv[2]))
n = len(__import__("os").listdir(sys.argv[3]))
assert len(a["matches"]) >= n - 3 and len(b["matches"]) >= n - 3, (n, len(a["matches"]), len(b["matches"]))
' "$TMP/ssd.json" "$TMP/out" "$DATA/people/Tony_Blair"

fs search -q "$QUERY" -t "$DATA/noface" --format xml
check "bad --format: exit 2" eval 'rc_is 2 && err_has "--format"'

fs search -q "$QUERY" -t "$DATA/noface" --query-face first
check "bad --query-face: exit 2" eval 'rc_is 2 && err_has "--query-face"'

fs search -q "$QUERY" -t "$DATA/noface" --threshold abc
check "bad --threshold: exit 2" eval 'rc_is 2 && err_has "--threshold"'

fs search -q "$QUERY" -t "$DATA/noface" --top-k -1
check "negative --top-k: exit 2" eval 'rc_is 2 && err_has "--top-k"'

# ---- runtime errors: exit 1, one line that says what is wrong ----------------------------------
fs search -q "$TMP/missing_photo.jpg" -t "$DATA/noface"
check "missing query photo: exit 1 naming it" eval 'rc_is 1 && err_has "missing_photo.jpg" && err_has "facesearch: error:"'

fs search -q "$QUERY" -t "$TMP/missing_folder"
check "missing target: exit 1 naming it" eval 'rc_is 1 && err_has "missing_folder"'

fs search -q "$NOFACE" -t "$DATA/noface"
check "query without a face: exit 1, says no face" eval 'rc_is 1 && err_has "no face"'

mkdir -p "$TMP/empty_models"
fs search -q "$QUERY" -t "$DATA/noface" --models "$TMP/empty_models"
check "empty --models folder: exit 1, says how to get models" \
  eval 'rc_is 1 && err_has "empty_models" && err_has "make setup"'

fs search -q "$QUERY" -t "$DATA/noface" --query-face 5
check "--query-face out of range: usage error, exit 2" eval 'rc_is 2 && err_has "--query-face"'

# ---- a real search: JSON ------------------------------------------------------------------------
fs search -q "$QUERY" -t "$DATA/people" --format json
cp "$TMP/out" "$TMP/people.json"
check "search people/ as JSON: exit 0" rc_is 0
py "JSON: finds the other Tony_Blair photos, best first, no one else on top" '
import json, sys
d = json.load(open(sys.argv[1]))
m = d["matches"]
paths = [x["path"] for x in m]
blair = [p for p in paths if "/Tony_Blair/" in p]
expected = {"lfw_Tony_Blair_0029.jpg", "lfw_Tony_Blair_0058.jpg", "lfw_Tony_Blair_0087.jpg", "lfw_Tony_Blair_0116.jpg"}
found = {p.rsplit("/", 1)[1] for p in blair}
assert expected <= found, f"missing Tony_Blair photos: {expected - found}"
assert "/Tony_Blair/" in paths[0], f"top match is {paths[0]}"
assert not any(p.endswith("lfw_Tony_Blair_0001.jpg") for p in paths), "the query photo matched itself"
sims = [x["similarity"] for x in m]
assert sims == sorted(sims, reverse=True), "matches not sorted by similarity"
assert all(s >= d["threshold"] for s in sims), "a match under the threshold"
assert d["model"] and d["metric"] == "cosine" and 0 < d["threshold"] <= 1
assert len(d["query_faces"]) == 1 and set(d["query_faces"][0]["box"]) == {"x1", "y1", "x2", "y2"}
for x in m:
    assert set(x) >= {"path", "similarity", "face_index", "box", "detection_score", "query_face"}, x
s = d["stats"]
assert s["images"] >= 100 and s["images_analysed"] >= 100 and s["faces"] >= 100, s
assert set(s["stage_ms"]) == {"decode", "detect", "landmarks", "align", "embed"}
assert d["skipped"] == [] and isinstance(d["warnings"], list)
# The default pack expands the query with its confident matches, and says which.
e = d["expanded_with"]
assert 1 <= len(e) <= 3 and all("/Tony_Blair/" in x["path"] and x["similarity"] >= 0.5 for x in e), e
' "$TMP/people.json"

# ---- query expansion off, several query photos of one person --------------------------------------
fs search -q "$QUERY" -t "$DATA/people/Tony_Blair" -t "$DATA/people/biden" --no-expand --format json --quiet
py "--no-expand: the query alone, expanded_with empty" '
import json, sys
d = json.load(open(sys.argv[1]))
assert d["expanded_with"] == [] and d["matches"], d
' "$TMP/out"
SECOND=$DATA/people/Tony_Blair/lfw_Tony_Blair_0029.jpg
fs search -q "$QUERY" -q "$SECOND" -t "$DATA/people/Tony_Blair" -t "$DATA/people/biden" --format json --quiet
py "two --query photos: one person, both left out, the combination named" '
import json, sys
d = json.load(open(sys.argv[1]))
paths = [m["path"] for m in d["matches"]]
assert d["queries"] == [sys.argv[2], sys.argv[3]] and d["combined"] == "mean", d
assert not any(p.endswith(("lfw_Tony_Blair_0001.jpg", "lfw_Tony_Blair_0029.jpg")) for p in paths), paths
assert len(paths) == 3 and all("/Tony_Blair/" in p for p in paths), paths
' "$TMP/out" "$QUERY" "$SECOND"
fs search -q "$QUERY" -q "$SECOND" -t "$DATA/people/Tony_Blair" --quiet
check "two --query photos, table: lists them and says they were combined" \
  eval 'rc_is 0 && out_has "2 photos of one person" && out_has "lfw_Tony_Blair_0029.jpg"'
fs search -q "$QUERY" -q "$SECOND" -t "$DATA/people/Tony_Blair" --query-face all --quiet
check "two --query photos with --query-face all: usage error" eval 'rc_is 2 && err_has "--query-face" && err_has "largest face"'

# ---- one search in the three formats: the same matches ------------------------------------------
# Four LFW folders rather than all of people/, to keep the script quick.
LFW=("$DATA/people/Tony_Blair" "$DATA/people/Vladimir_Putin" "$DATA/people/Laura_Bush" "$DATA/people/Serena_Williams")
fs search -q "$QUERY" "${LFW[@]}" --format json --threshold 0.3 --quiet
cp "$TMP/out" "$TMP/lfw.json"
fs search -q "$QUERY" "${LFW[@]}" --threshold 0.3 --quiet
check "table: exit 0, header and summary" \
  eval 'rc_is 0 && out_has "threshold 0.3" && grep -qE "^[0-9]+ match(es)? in [0-9]+ images? \(" "$TMP/out"'
py "table lists the same paths as JSON, in the same order" '
import json, sys
want = [x["path"] for x in json.load(open(sys.argv[1]))["matches"]]
lines = open(sys.argv[2]).read().splitlines()
start = next(i for i, l in enumerate(lines) if l.split()[:2] == ["RANK", "SIMILARITY"]) + 1
rows = lines[start:lines.index("", start)]
got = [l.split(None, 4)[4] for l in rows]
assert want and got == want, f"table: {got}, JSON: {want}"
' "$TMP/lfw.json" "$TMP/out"

fs search -q "$QUERY" "${LFW[@]}" --format csv --threshold 0.3 --quiet
check "CSV: exit 0" rc_is 0
py "CSV: header, one row per JSON match, same order" '
import csv, json, sys
m = json.load(open(sys.argv[1]))["matches"]
rows = list(csv.reader(open(sys.argv[2], newline="")))
assert rows[0] == "path,similarity,face_index,x1,y1,x2,y2,query_face".split(","), rows[0]
assert [r[0] for r in rows[1:]] == [x["path"] for x in m], "rows differ from JSON matches"
assert [round(float(r[1]), 4) for r in rows[1:]] == [round(x["similarity"], 4) for x in m]
' "$TMP/lfw.json" "$TMP/out"

# ---- unreadable files are skipped, not fatal ----------------------------------------------------
fs search -q "$QUERY" -t "$DATA/bad" --format json
check "bad/ target: exit 0, skips reported on stderr" \
  eval 'rc_is 0 && err_has "facesearch: skipped" && err_has "zero_bytes.jpg" && err_has "text_file_named.png"'
py "bad/ target: JSON lists the unreadable files under skipped, with reasons" '
import json, sys
d = json.load(open(sys.argv[1]))
skipped = {x["path"].rsplit("/", 1)[1]: x for x in d["skipped"]}
for name in ("zero_bytes.jpg", "text_file_named.png"):
    assert name in skipped, f"{name} not skipped: {list(skipped)}"
    assert skipped[name]["reason"] and skipped[name]["message"], skipped[name]
assert d["stats"]["skipped"] == len(d["skipped"])
' "$TMP/out"

fs search -q "$QUERY" -t "$DATA/bad" --format json --quiet
check "bad/ target with --quiet: no libjpeg 'Corrupt JPEG data' line for the truncated JPEG" \
  eval 'rc_is 0 && err_lacks "Corrupt JPEG" && err_lacks "premature end"'

fs search -q "$QUERY" -t "$DATA/noface" --format json --quiet
check "noface/ target: exit 0, --quiet keeps stderr empty" eval 'rc_is 0 && [ ! -s "$TMP/err" ]'
py "noface/ target: empty matches" '
import json, sys
d = json.load(open(sys.argv[1]))
assert d["matches"] == [] and d["stats"]["images"] == 10, d["stats"]
' "$TMP/out"

# ---- options that narrow the result -------------------------------------------------------------
BLAIR=$DATA/people/Tony_Blair
fs search -q "$QUERY" -t "$BLAIR" --format json --top-k 2 --quiet
py "--top-k 2: at most 2 matches" '
import json, sys
d = json.load(open(sys.argv[1]))
assert 1 <= len(d["matches"]) <= 2, len(d["matches"])
' "$TMP/out"

fs search -q "$QUERY" -t "$BLAIR" --threshold 1 --quiet
check "--threshold 1 (the highest): exit 0, no matches" eval 'rc_is 0 && out_has "No matches above threshold 1."'

fs search -q "$QUERY" -t "$BLAIR" --threshold 1 --format json --quiet
py "--threshold 1: JSON has zero matches and the threshold applied" '
import json, sys
d = json.load(open(sys.argv[1]))
assert d["matches"] == [] and d["threshold"] == 1, d["threshold"]
' "$TMP/out"

fs search -q "$QUERY" -t "$BLAIR" "$DATA/people/Vladimir_Putin" --query-face all --format json --quiet
check "positional extra targets and --query-face all: exit 0" rc_is 0
py "positional targets are searched; matches name a query face that was used" '
import json, sys
d = json.load(open(sys.argv[1]))
assert d["stats"]["images"] >= 9, d["stats"]
used = {q["index"] for q in d["query_faces"]}
assert used and all(x["query_face"] in used for x in d["matches"])
assert not any("/Vladimir_Putin/" in x["path"] for x in d["matches"][:1])
' "$TMP/out"

# One match per photo (its best face) unless --all-faces; threshold -1 (the lowest) lets every face match.
fs search -q "$QUERY" -t "$DATA/scenes/fr_obama_and_biden.jpg" --threshold -1 --format json --quiet
cp "$TMP/out" "$TMP/best.json"
fs search -q "$QUERY" -t "$DATA/scenes/fr_obama_and_biden.jpg" --threshold -1 --all-faces --format json --quiet
check "--all-faces: exit 0" rc_is 0
py "a group photo (Obama, Biden, a girl in front): one match by default, every face with --all-faces" '
import json, sys
best = json.load(open(sys.argv[1]))["matches"]
every = json.load(open(sys.argv[2]))["matches"]
assert len(best) == 1 and len(every) == 3, (best, every)
assert sorted(m["face_index"] for m in every) == [0, 1, 2]
assert best[0]["similarity"] == max(m["similarity"] for m in every)
' "$TMP/best.json" "$TMP/out"

# CSV quoting: a folder whose name holds a comma and a quote.
ODD="$TMP/odd, \"name\""
mkdir -p "$ODD"
cp "$BLAIR/lfw_Tony_Blair_0029.jpg" "$ODD/"
fs search -q "$QUERY" -t "$ODD" --format csv --quiet
py "CSV quotes paths with commas and quotes (RFC 4180)" '
import csv, sys
rows = list(csv.reader(open(sys.argv[1], newline="")))
assert len(rows) == 2, rows
assert rows[1][0] == sys.argv[2] + "/lfw_Tony_Blair_0029.jpg", rows[1][0]
' "$TMP/out" "$ODD"

finish
