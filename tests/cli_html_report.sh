#!/usr/bin/env bash
# `facesearch search --html FILE`: the real binary writes one self-contained page of a search's results
# (the served web page with the result and its pictures inside), from a library and from folders. Checks
# that it is one file that refers to nothing outside itself, holds a JPEG crop per match and the right
# person's photos, leaves stdout as it was, cannot be broken out of by a file name, survives a photo that
# is gone, and refuses a place it cannot write before searching. tests/browser/web_page_test.js opens such
# a page in Chromium.
# Usage: bash tests/cli_html_report.sh PATH/TO/facesearch   (from the repository root; CTest does this)
# Prints "N passed, M failed". Needs the default model pack (`make setup`) and /usr/bin/python3.
source "$(dirname "$0")/smoke_lib.sh" "$@"

export FACESEARCH_DB=$TMP/library.db

# ---- the photos: three people, and Tony Blair's photos again under a hostile folder and file name ------
PHOTOS=$TMP/photos
mkdir -p "$PHOTOS"
for person in Tony_Blair Vladimir_Putin Serena_Williams; do cp -r "$DATA/people/$person" "$PHOTOS/"; done
QUERY=$PHOTOS/Tony_Blair/lfw_Tony_Blair_0001.jpg
# A path holding "</script><script>alert(1)</script>" (a "/" cannot be in a file name, so it spans a
# folder), a file name with markup and an entity, and a name that is not UTF-8.
HOSTILE_DIR=$TMP/hostile/'</script><script>alert(1)</script>'
mkdir -p "$HOSTILE_DIR"
cp "$DATA/people/Tony_Blair/lfw_Tony_Blair_0116.jpg" "$HOSTILE_DIR/<img src=x onerror=alert(2)>&amp;.jpg"
cp "$DATA/people/Tony_Blair/lfw_Tony_Blair_0087.jpg" "$HOSTILE_DIR/"$'\xff'"latin1-\"quote'.jpg"
cp "$DATA/people/Vladimir_Putin/"*.jpg "$TMP/hostile/"

fs index "$PHOTOS" --quiet
check "index the library" rc_is 0

# The page's checks, shared by every page below. argv: the page, then the paths expected (a file, one a line).
CHECK_PAGE='
import html.parser, json, re, sys
page = open(sys.argv[1], encoding="utf-8").read()

# one file: every src and href is data: or a fragment; no style sheet, script or import from elsewhere
class Refs(html.parser.HTMLParser):
    def __init__(self):
        super().__init__(); self.refs = []; self.scripts = []
    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        for k in ("src", "href", "srcset", "poster", "data", "action"):
            if a.get(k) is not None: self.refs.append((tag, k, a[k]))
        if tag == "script": self.scripts.append(a)
        if tag == "link" and "stylesheet" in (a.get("rel") or ""): raise SystemExit("a linked style sheet: %r" % a)
p = Refs(); p.feed(page)
bad = [r for r in p.refs if not (r[2].startswith("data:") or r[2].startswith("#"))]
assert not bad, "references outside the file: %r" % bad[:5]
assert all("src" not in s for s in p.scripts), "a script with src: %r" % p.scripts
for pattern in (r"src=\"/", r"href=\"/", r"src=\"http", r"href=\"http", r"url\(\s*[\"\x27]?(https?:|/)", r"@import"):
    assert not re.search(pattern, page), "found %s in the page" % pattern
assert page.count("</script>") == 2, "%d </script> in the page (want 2: the result and app.js)" % page.count("</script>")

# the result: JSON inside the page, in the words of POST /api/v1/search
m = re.search(r"<script type=\"application/json\" id=\"facesearch-report\">(.*?)</script>", page, re.S)
assert m, "no facesearch-report block"
raw = m.group(1)
assert "<" not in raw and ">" not in raw and "&" not in raw, "unescaped < > & in the result"
r = json.loads(raw)
assert r["format"] == "facesearch-search-page" and r["version"] == 1
matches = r["matches"]
crops = [x["crop"] for x in matches if x["crop"]]
assert all(c.startswith("data:image/jpeg;base64,") for c in crops)
assert page.count("data:image/jpeg;base64,") >= len(crops) + 1, "crops, query photo"
assert r["query"]["image"].startswith("data:image/jpeg;base64,"), "no query photo"
assert r["query"]["width"] > 0 and len(r["query"]["faces"]) >= 1
expected = [l for l in open(sys.argv[2], encoding="utf-8", errors="surrogateescape").read().split("\n") if l]
got = [x["path"] for x in matches]
assert got == expected, "matches %r, expected %r" % (got, expected)
print(json.dumps({"matches": len(matches), "crops": len(crops), "photos": len(r["photos"]), "bytes": len(page)}))
'

# ---- a library search ------------------------------------------------------------------------------
fs search -q "$QUERY" --format csv
cp "$TMP/out" "$TMP/plain.csv"
fs search -q "$QUERY" --format csv --html "$TMP/page.html"
check "library search --html: exit 0, stdout as without --html" eval 'rc_is 0 && cmp -s "$TMP/out" "$TMP/plain.csv"'
N=$(($(wc -l <"$TMP/plain.csv") - 1))
check "stderr: wrote FILE (N results, X KB)" eval 'err_has "facesearch: wrote $TMP/page.html ($N results, " && grep -qE "\(([0-9]+) results, [0-9]+ KB\)" "$TMP/err"'
check "one file, no temporary file left beside it" eval '[ -s "$TMP/page.html" ] && [ -z "$(ls -A "$TMP" | grep -F .tmp-)" ]'
tail -n +2 "$TMP/plain.csv" | cut -d, -f1 >"$TMP/expected"
check "the matches are Tony Blair's photos (3 or more)" eval '[ "$N" -ge 3 ] && [ "$(grep -c "/Tony_Blair/" "$TMP/expected")" -eq "$N" ]'
py "the page: self-contained, a JPEG crop per match, the query photo, the same matches" "$CHECK_PAGE
assert r['source'] == 'library' and r['library'] == '$FACESEARCH_DB'
assert all(x['photo_id'] and x['face_id'] for x in matches)
assert len(crops) == len(matches) == $N
assert len(r['photos']) == min($N, 20) and all(x['photo'] is not None for x in matches[:20])
assert r['query']['chosen'] == 0 and r['query']['path'] == '$QUERY'
assert 0 < r['threshold'] <= 1 and r['default_threshold'] == r['threshold']
" "$TMP/page.html" "$TMP/expected"
ls -l "$TMP/page.html" | awk '{ printf "     page: %d KB\n", $5 / 1024 }'

fs search -q "$QUERY" --format csv --html "$TMP/page.html" --html-photos 1 --quiet
py "--html-photos 1: the best match's photo only, a smaller page; --quiet: nothing on stderr" "$CHECK_PAGE
assert len(r['photos']) == 1 and matches[0]['photo'] == 0 and all(x['photo'] is None for x in matches[1:])
import os; assert os.path.getsize(sys.argv[1]) == len(page.encode())
" "$TMP/page.html" "$TMP/expected"
check "--quiet: stderr empty" eval 'rc_is 0 && [ ! -s "$TMP/err" ]'

FACE_ID=$("$PY" -c 'import json,sys; print(json.load(open(sys.argv[1]))["faces"][0]["id"])' <(timeout 60 "$BIN" faces "$QUERY" --format json))
fs search --face-id "$FACE_ID" --format csv --html "$TMP/face.html"
tail -n +2 "$TMP/out" | cut -d, -f1 >"$TMP/expected_face"
py "--face-id --html: the face's photo as the query, its id, Tony Blair's photos" "$CHECK_PAGE
assert r['query']['face_id'] == $FACE_ID and r['query']['path'] == '$QUERY' and len(r['query']['faces']) == 1
assert matches and all('/Tony_Blair/' in x['path'] for x in matches)
" "$TMP/face.html" "$TMP/expected_face"

# a photo gone since it was indexed: still a match (the library knows it), a card without a picture
mv "$PHOTOS/Tony_Blair/$(basename "$(sed -n 1p "$TMP/expected")")" "$TMP/moved.jpg"
fs search -q "$QUERY" --format csv --html "$TMP/page.html"
check "a photo gone since indexing: exit 0, a warning naming it" eval 'rc_is 0 && err_has "cannot read $(sed -n 1p "$TMP/expected")" && err_has "wrote"'
py "its card: no crop, no photo, why; the others as before" "$CHECK_PAGE
assert matches[0]['crop'] is None and matches[0]['photo'] is None and matches[0]['unreadable']
assert all(x['crop'] for x in matches[1:]) and len(r['photos']) == len(matches) - 1
" "$TMP/page.html" "$TMP/expected"
mv "$TMP/moved.jpg" "$PHOTOS/Tony_Blair/$(basename "$(sed -n 1p "$TMP/expected")")"

# ---- a search of folders, with hostile names ------------------------------------------------------
fs search -q "$QUERY" -t "$TMP/hostile" --format csv --html "$TMP/hostile.html"
"$PY" -c '
import csv, sys
rows = list(csv.reader(open(sys.argv[1], newline="", encoding="utf-8", errors="surrogateescape")))[1:]
sys.stdout.buffer.write("".join(r[0] + "\n" for r in rows).encode("utf-8", "surrogateescape"))' "$TMP/out" >"$TMP/expected_hostile"
check "folder search --html: exit 0, wrote" eval 'rc_is 0 && err_has "facesearch: wrote $TMP/hostile.html"'
py "hostile names: escaped in the page, intact in its result; no photo id in a search of folders" "$CHECK_PAGE
assert r['source'] == 'folders' and r['library'] is None and r['targets'] == ['$TMP/hostile']
assert '</script><script>alert(1)' not in page and '<img src=x' not in page
names = sorted(x['name'] for x in matches)
assert '<img src=x onerror=alert(2)>&amp;.jpg' in names, names
assert any('</script><script>alert(1)</script>/' in x['path'] for x in matches)
assert any(n.endswith('latin1-\"quote\\'.jpg') for n in names), names
assert all(x['photo_id'] is None for x in matches) and len(matches) == 2
" "$TMP/hostile.html" <(LC_ALL=C sed 's/\xff/\xef\xbf\xbd/' "$TMP/expected_hostile")

# ---- where it cannot write: refused before the search ----------------------------------------------
fs search -q "$QUERY" --html "$TMP/no_such_folder/page.html"
check "--html in a missing folder: exit 1 naming it, nothing on stdout" eval 'rc_is 1 && err_has "no_such_folder" && [ ! -s "$TMP/out" ]'
fs search -q "$QUERY" -t "$PHOTOS" --html "$TMP"
check "--html naming a folder: usage error" eval 'rc_is 2 && err_has "--html" && err_has "folder"'
fs search -q "$QUERY" --html-photos 3
check "--html-photos without --html: usage error" eval 'rc_is 2 && err_has "--html"'
fs search -q "$QUERY" --html ''
check "--html '': usage error" eval 'rc_is 2 && err_has "--html"'
fs search --help
check "search --help: --html, --html-photos and what the page weighs" eval 'rc_is 0 && out_has "--html FILE" && out_has "--html-photos" && out_has " KB"'

finish
