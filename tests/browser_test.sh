#!/usr/bin/env bash
# Real-browser test of `facesearch serve`: indexes a small library from ../shared/testdata, serves it on a
# free loopback port and drives the web page with headless Chromium (Debian's /usr/bin/chromium) through
# puppeteer-core (tests/browser/web_page_test.js). Screenshots go to build/screenshots/.
#
# Usage (from the repository root, as CTest runs it): bash tests/browser_test.sh build/facesearch
#
# Needs chromium and puppeteer-core, both installed by `make setup` (tools/setup.sh): puppeteer-core lives
# outside the checkout, in ${FACESEARCH_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/facesearch}/browser-test
# (FACESEARCH_BROWSER_TEST_MODULES overrides the node_modules folder, CHROMIUM_BIN the browser).
set -uo pipefail

BIN=${1:?usage: browser_test.sh PATH/TO/facesearch}
ROOT=$(pwd)
FACES=../shared/testdata/faces
CACHE=${FACESEARCH_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/facesearch}
MODULES=${FACESEARCH_BROWSER_TEST_MODULES:-$CACHE/browser-test/node_modules}
CHROMIUM=${CHROMIUM_BIN:-/usr/bin/chromium}
SHOTS=$ROOT/build/screenshots

fail() { printf 'browser_test: FAIL: %s\n' "$*" >&2; exit 1; }
log() { printf 'browser_test: %s\n' "$*" >&2; }

# ---- prerequisites: fail loudly, never skip
[ -x "$BIN" ] || fail "no facesearch binary at $BIN (build it first: make build)"
[ -d "$FACES/people/Tony_Blair" ] || fail "test photos missing: $FACES/people (run from the repository root)"
command -v node >/dev/null || fail "node is not installed: run \`make setup\`"
[ -x "$CHROMIUM" ] || fail "chromium is not installed ($CHROMIUM): run \`make setup\`"
[ -f "$MODULES/puppeteer-core/package.json" ] || fail "puppeteer-core is not installed in $MODULES: run \`make setup\`"
command -v python3 >/dev/null || fail "python3 is needed to pick a free port"

TMP=$(mktemp -d "${TMPDIR:-/tmp}/facesearch-browser-test.XXXXXX") || fail "mktemp failed"
SERVER_PID=
cleanup() {
  if [ -n "$SERVER_PID" ] && kill -0 "$SERVER_PID" 2>/dev/null; then
    kill -TERM "$SERVER_PID" 2>/dev/null
    for _ in $(seq 1 50); do kill -0 "$SERVER_PID" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$SERVER_PID" 2>/dev/null
    wait "$SERVER_PID" 2>/dev/null
  fi
  rm -rf "$TMP"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

mkdir -p "$SHOTS" || fail "cannot create $SHOTS"
rm -f "$SHOTS"/{search,photo,face,noface,library,reindex,people,person,rename-taken,merge-confirm,people-merged,person-search,phone,people-phone,person-phone,failure,html-report,html-report-photo,html-report-phone}.png

# ---- library
start=$(date +%s)
P=$FACES/people
"$BIN" index --db "$TMP/lib.db" --quiet "$P/Tony_Blair" "$P/obama" "$P/biden" "$P/Serena_Williams" "$P/kit_harington" \
  >"$TMP/index.out" 2>&1 || { cat "$TMP/index.out" >&2; fail "facesearch index failed"; }

# ---- pages saved by `facesearch search --html` (opened as file:// after the served page's steps): one
# from the library, one from a folder whose file names hold markup
"$BIN" search --db "$TMP/lib.db" -q "$P/Tony_Blair/lfw_Tony_Blair_0001.jpg" --html "$TMP/report.html" --quiet \
  >/dev/null 2>"$TMP/report.err" || { cat "$TMP/report.err" >&2; fail "facesearch search --html failed"; }
HOSTILE=$TMP/hostile/'</script><script>alert(1)</script>'
mkdir -p "$HOSTILE" && cp "$P/Tony_Blair/lfw_Tony_Blair_0116.jpg" "$HOSTILE/<img src=x onerror=alert(2)>.jpg" \
  && cp "$P/obama/"*.jpg "$TMP/hostile/" || fail "cannot copy the test photos"
"$BIN" search -q "$P/Tony_Blair/lfw_Tony_Blair_0001.jpg" -t "$TMP/hostile" --html "$TMP/hostile.html" --quiet \
  >/dev/null 2>"$TMP/report.err" || { cat "$TMP/report.err" >&2; fail "facesearch search -t --html failed"; }

# ---- server on a free loopback port
PORT=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()') \
  || fail "cannot pick a free port"
"$BIN" serve --db "$TMP/lib.db" --port "$PORT" --cache-dir "$TMP/image-cache" >"$TMP/serve.out" 2>"$TMP/serve.err" &
SERVER_PID=$!
URL=
for _ in $(seq 1 1200); do   # until the "Open" line; 120 s at most (a slow machine)
  URL=$(sed -n 's/^Open \(http[^ ]*\).*/\1/p' "$TMP/serve.out" | head -n1)
  [ -n "$URL" ] && break
  kill -0 "$SERVER_PID" 2>/dev/null || { cat "$TMP/serve.out" "$TMP/serve.err" >&2; SERVER_PID=; fail "facesearch serve exited before it was ready"; }
  sleep 0.1
done
[ -n "$URL" ] || { cat "$TMP/serve.out" "$TMP/serve.err" >&2; fail "facesearch serve printed no 'Open' line within 120 s"; }
log "server ready at $URL"

# ---- the page, in a real browser
status=0
NODE_PATH="$MODULES${NODE_PATH:+:$NODE_PATH}" CHROMIUM_BIN="$CHROMIUM" FACESEARCH_TEST_PHOTOS="$FACES" \
  FACESEARCH_HTML_REPORT="$TMP/report.html" FACESEARCH_HTML_REPORT_HOSTILE="$TMP/hostile.html" \
  node "$ROOT/tests/browser/web_page_test.js" "$URL" "$SHOTS" || status=$?

# ---- stop the server: SIGTERM, and it must exit by itself
kill -TERM "$SERVER_PID" 2>/dev/null || { status=1; log "FAIL: the server was no longer running at the end"; }
stopped=
for _ in $(seq 1 600); do   # up to 60 s: a deadline for a slow machine, not an expected time
  kill -0 "$SERVER_PID" 2>/dev/null || { stopped=1; break; }
  sleep 0.1
done
if [ -z "$stopped" ]; then
  log "FAIL: facesearch serve did not exit within 60 s of SIGTERM"
  status=1
else
  wait "$SERVER_PID"; rc=$?
  SERVER_PID=
  case $rc in
    143) ;;  # SIGTERM is handled: requests finish, then the status says which signal
    *) log "FAIL: facesearch serve exited with status $rc after SIGTERM"; status=1 ;;
  esac
fi
if [ "$status" -ne 0 ]; then
  log "server stdout:"; cat "$TMP/serve.out" >&2
  log "server stderr:"; tail -n 50 "$TMP/serve.err" >&2
  fail "see above (screenshots in $SHOTS)"
fi
log "passed in $(( $(date +%s) - start )) s; screenshots in $SHOTS"
