#!/usr/bin/env bash
# CLI tests of `facesearch people` and `search --person` (issue 15) through the real binary: a library
# indexed from a temporary copy of four people of ../shared/testdata/faces and a photo of two of them,
# then listing (table, JSON, CSV), naming, searching by name, corrections, merges, re-clustering, and
# the errors a user meets (unknown person or face, a name taken, a name of digits, usage errors).
# Usage: bash tests/cli_people.sh PATH/TO/facesearch   (from the repository root; CTest does this)
source "$(dirname "$0")/smoke_lib.sh" "$@"

export FACESEARCH_DB=$TMP/library.db
PHOTOS=$TMP/photos
mkdir -p "$PHOTOS"
for person in Tony_Blair Vladimir_Putin Serena_Williams obama biden; do cp -r "$DATA/people/$person" "$PHOTOS/"; done
cp "$DATA/scenes/fr_obama_and_biden.jpg" "$PHOTOS/"

fs people --help
check "people --help teaches the commands and the rules" \
  eval 'rc_is 0 && out_has "people name" && out_has "people merge" && out_has "people reject" && out_has "recluster" && out_has "never" && out_has "Exit status"'
fs people
check "people without a library: exit 1, says to index" eval 'rc_is 1 && err_has "facesearch index"'

fs index "$PHOTOS"
check "index groups the new faces into people and says so" eval 'rc_is 0 && out_has "People: " && out_has "new people"'
fs people --format json
py "people --format json: five people, one per folder, no photo twice in a person" '
import json, sys
d = json.load(open(sys.argv[1]))
assert d["people"] == 5 and len(d["list"]) == 5, d
for p in d["list"]:
    assert p["faces"] >= 3 and p["sample"], p
' "$TMP/out"
fs people --faces --format csv
py "people --faces --format csv: each person is one folder (the two-person photo aside), ids and boxes" '
import csv, sys, collections
rows = list(csv.DictReader(open(sys.argv[1])))
assert rows and set(rows[0]) >= {"person_id", "name", "face_id", "path", "x1", "y2"}, rows[:1]
folders = collections.defaultdict(set)
photos = collections.defaultdict(list)
for r in rows:
    folder = r["path"].split("/")[-2]
    if not r["path"].endswith("fr_obama_and_biden.jpg"): folders[r["person_id"]].add(folder)
    photos[r["person_id"]].append(r["path"])
assert all(len(f) == 1 for f in folders.values()), folders
assert all(len(p) == len(set(p)) for p in photos.values()), "a photo twice in one person"
open(sys.argv[2], "w").write("\n".join(r["person_id"] + " " + r["path"].split("/")[-2] + " " + r["face_id"] for r in rows))
' "$TMP/out" "$TMP/faces.txt"
SERENA=$(awk '$2 == "Serena_Williams" {print $1; exit}' "$TMP/faces.txt")
PUTIN=$(awk '$2 == "Vladimir_Putin" {print $1; exit}' "$TMP/faces.txt")
OBAMA=$(awk '$2 == "obama" {print $1; exit}' "$TMP/faces.txt")
BIDEN=$(awk '$2 == "biden" {print $1; exit}' "$TMP/faces.txt")
PUTIN_FACE=$(awk '$2 == "Vladimir_Putin" {print $3; exit}' "$TMP/faces.txt")
check "every folder's person found" eval '[ -n "$SERENA" ] && [ -n "$PUTIN" ] && [ -n "$OBAMA" ] && [ -n "$BIDEN" ]'

fs people name "$SERENA" "Serena Williams"
check "people name: says how to search for them" eval 'rc_is 0 && out_has "Serena Williams" && out_has "search --person"'
fs people
check "people (table): the name, counts and a sample photo" eval 'rc_is 0 && out_has "Serena Williams" && out_has "FACES" && out_has "$PHOTOS/"'
fs people name "$PUTIN" "serena williams"
check "a name another person has: exit 2 naming it" eval 'rc_is 2 && err_has "already has a person named"'
fs people name "$PUTIN" 2024
check "a name of digits only: exit 2" eval 'rc_is 2 && err_has "only digits"'
fs people show "Nobody"
check "an unknown person: exit 1, says how to list them" eval 'rc_is 1 && err_has "no person named" && err_has "facesearch people"'
fs people show "serena williams" --format json
py "people show NAME (any case): the person's faces" '
import json, sys
d = json.load(open(sys.argv[1]))
assert d["name"] == "Serena Williams" and len(d["face_list"]) == d["faces"] == 5, d
assert all("Serena_Williams" in f["path"] for f in d["face_list"])
' "$TMP/out"

fs search --person "Serena Williams" --format json
py "search --person NAME: every photo of her and no one else" '
import json, sys
d = json.load(open(sys.argv[1]))
assert d["person"]["name"] == "Serena Williams", d["person"]
paths = [m["path"] for m in d["matches"]]
assert len(paths) == 5 and all("/Serena_Williams/" in p for p in paths), paths
' "$TMP/out"
fs search --person "Serena Williams" -q "$PHOTOS/obama/fr_obama.jpg"
check "search --person with --query: usage error" eval 'rc_is 2 && err_has "--person"'
fs search --person "Serena Williams" --target "$PHOTOS"
check "search --person with --target: usage error" eval 'rc_is 2 && err_has "--target"'

fs people move "$PUTIN_FACE" "$OBAMA"
check "people move FACE PERSON: placed for good" eval 'rc_is 0 && out_has "stays there"'
fs people reject "$PUTIN_FACE"
check "people reject FACE: taken out and remembered" eval 'rc_is 0 && out_has "never put back"'
fs people reject 999999
check "an unknown face: exit 1, says how to list face ids" eval 'rc_is 1 && err_has "no face 999999"'
fs people move abc new
check "a face id that is no number: exit 2" eval 'rc_is 2 && err_has "FACE_ID"'
fs people recluster --format json
py "people recluster: every face looked at again, the named person kept" '
import json, sys
d = json.load(open(sys.argv[1]))
assert d["faces_checked"] > 0 and d["people"] >= 5, d
' "$TMP/out"
fs people show "$OBAMA" --format json
py "the rejected face stays out of the person it was rejected from" '
import json, sys
d = json.load(open(sys.argv[1]))
assert int(sys.argv[2]) not in [f["face_id"] for f in d["face_list"]], d
' "$TMP/out" "$PUTIN_FACE"

fs people merge "$OBAMA" "$BIDEN"
check "people merge: into the first, the face of the two-person photo left out" \
  eval 'rc_is 0 && out_has "Merged 1 person into person $OBAMA" && out_has "1 face was left out"'
fs people merge "$OBAMA"
check "people merge with one person: usage error" eval 'rc_is 2'
fs people hide "Serena Williams"
fs people --format json
py "a hidden person is left out of the list" '
import json, sys
d = json.load(open(sys.argv[1]))
assert all(p["name"] != "Serena Williams" for p in d["list"]), d
' "$TMP/out"
fs people --all
check "people --all shows hidden people, marked" eval 'rc_is 0 && out_has "Serena Williams (hidden)"'
fs status --format json
py "status counts the people" '
import json, sys
d = json.load(open(sys.argv[1]))
assert d["schema_version"] == 2 and d["people"] >= 4 and d["named_people"] == 1, d
' "$TMP/out"

# Deleting a named person's photos keeps the person (empty); an unnamed one disappears.
rm -rf "$PHOTOS/Serena_Williams" "$PHOTOS/Vladimir_Putin"
fs index
check "index after deleting photos" eval 'rc_is 0 && out_has "deleted"'
fs people show "Serena Williams" --format json
py "the named person stays, with no faces" 'import json, sys; d = json.load(open(sys.argv[1])); assert d["faces"] == 0, d' "$TMP/out"
fs people show "$PUTIN"
check "the unnamed person of deleted photos is gone" eval 'rc_is 1 && err_has "no person $PUTIN"'

finish
