#!/usr/bin/env bash
# `make install` and `make deb` (packaging/): the build installed into a temporary prefix and run from
# PATH as another user (nobody, through setpriv, when the tests run as root) whose home is empty, so
# that nothing of the builder's is found (ONNX Runtime in ~/.cache, the packs in ~/.local/share): its
# version, its installed packs (whole: `models verify`), a library of a few people indexed and searched,
# and `facesearch serve` answering /api/v1/status with the token from $FACESEARCH_TOKEN. Then the .deb
# built with CPack: its files, its Depends, and its binary run from the unpacked tree.
# Usage: bash tests/install_test.sh PATH/TO/facesearch BUILD_DIR   (from the repository root; CTest does this)
# Prints "N passed, M failed". Needs the packs `make setup` builds, curl, /usr/bin/python3; cpack and
# dpkg-deb for the .deb part.
BUILD=${2:-}
set -- "${1:-}"
source "$(dirname "$0")/smoke_lib.sh" "$@"
if [ -z "$BUILD" ] || [ ! -f "$BUILD/cmake_install.cmake" ]; then
  echo "usage: bash tests/install_test.sh PATH/TO/facesearch BUILD_DIR (a configured build folder)" >&2
  exit 2
fi

# cmake --install and cpack rewrite BUILD/install_manifest.txt: the list of a real `make install`
# (README: uninstalling) is put back at exit.
MANIFEST=$BUILD/install_manifest.txt
[ -f "$MANIFEST" ] && cp -p "$MANIFEST" "$TMP/manifest.keep"
trap 'if [ -f "$TMP/manifest.keep" ]; then cp -p "$TMP/manifest.keep" "$MANIFEST"; else rm -f "$MANIFEST"; fi; rm -rf "$TMP"' EXIT

# ---- make install into a prefix -------------------------------------------------------------------
PREFIX=$TMP/prefix
if (umask 022 && cmake --install "$BUILD" --prefix "$PREFIX") >"$TMP/out" 2>"$TMP/err"; then rc=0; else rc=$?; fi  # as make install
check "cmake --install into $PREFIX" rc_is 0
[ "$rc" -eq 0 ] || finish
IBIN=$PREFIX/bin/facesearch
check "installed: bin/facesearch, ONNX Runtime in lib/facesearch, both packs, the user unit" \
  test -x "$IBIN" -a -L "$PREFIX/lib/facesearch/libonnxruntime.so.1" -a -f "$PREFIX/lib/facesearch/libonnxruntime.so.1" \
  -a -f "$PREFIX/share/facesearch/models/mobilefacenet-faceapi/manifest.json" \
  -a -f "$PREFIX/share/facesearch/models/dlib-faceapi/manifest.json" \
  -a -f "$PREFIX/share/systemd/user/facesearch-serve.service"
check "the packs are plain files (links resolved), without setup's stamps" \
  eval '[ -z "$(find "$PREFIX/share/facesearch" \( -type l -o -name ".*" \) -print)" ] && [ -s "$PREFIX/share/facesearch/models/mobilefacenet-faceapi/ssd_mobilenetv1.onnx" ]'
check "the binary's RUNPATH is \$ORIGIN/../lib/facesearch" \
  eval 'readelf -d "$IBIN" | grep -E "R(UN)?PATH" | grep -qF "[\$ORIGIN/../lib/facesearch]"'
ldd "$IBIN" >"$TMP/out" 2>"$TMP/err"
ORT=$(awk '$1 == "libonnxruntime.so.1" {print $3}' "$TMP/out")
check "ldd: libonnxruntime.so.1 from the prefix ($ORT), nothing from the builder's home or cache" \
  eval '[ -n "$ORT" ] && [ "$(realpath "$ORT")" = "$(realpath "$PREFIX/lib/facesearch/libonnxruntime.so.1")" ] && ! grep -qE "=> ($HOME|/root|/home)/" "$TMP/out" && ! grep -q "not found" "$TMP/out"'
check "the unit runs the installed binary" grep -qxF "ExecStart=$IBIN serve" "$PREFIX/share/systemd/user/facesearch-serve.service"
if command -v systemd-analyze >/dev/null; then
  # As a system unit (no user manager is needed): the syntax, the specifiers and that ExecStart exists.
  systemd-analyze verify "$PREFIX/share/systemd/user/facesearch-serve.service" >"$TMP/out" 2>"$TMP/err"
  rc=$?
  check "systemd-analyze verify: the unit is valid" eval 'rc_is 0 && ! grep -q "facesearch-serve.service:" "$TMP/err"'
else
  echo "skip systemd-analyze verify: systemd-analyze is missing"
fi

# ---- run as another user, from PATH, with an empty home ------------------------------------------
WORK=$TMP/work  # the user's home, library and photos
mkdir -p "$WORK/home" "$WORK/photos"
as_user=()
if [ "$(id -u)" -eq 0 ]; then
  if ! command -v setpriv >/dev/null; then
    echo "install_test: running as root and setpriv (util-linux) is missing: cannot run as another user" >&2
    exit 1
  fi
  as_user=(setpriv --reuid=nobody --regid=nogroup --clear-groups)
  chmod 0755 "$TMP"
  chmod -R a+rX "$PREFIX"
  chown -R nobody:nogroup "$WORK"
fi
# A fresh environment: PATH with the prefix's bin, a home of its own, none of the FACESEARCH_* variables
# (the sanitizers' options pass, under `make test-sanitize`).
user_env=(env -i "PATH=$PREFIX/bin:/usr/bin:/bin" "HOME=$WORK/home" LANG=C.UTF-8)
for v in ASAN_OPTIONS LSAN_OPTIONS UBSAN_OPTIONS; do [ -n "${!v:-}" ] && user_env+=("$v=${!v}"); done
# run ARGS...: `facesearch ARGS` as that user; leaves $rc, $TMP/out, $TMP/err.
run() {
  timeout 120 "${user_env[@]}" "${as_user[@]}" facesearch "$@" >"$TMP/out" 2>"$TMP/err"
  rc=$?
}

run --version
check "facesearch --version from PATH, as $([ ${#as_user[@]} -gt 0 ] && echo nobody || id -un)" \
  eval 'rc_is 0 && out_has "facesearch "'

run models list --format json
py "models list: both installed packs, from the prefix, the default one first" '
import json, sys
packs = json.load(open(sys.argv[1]))["packs"]
found = {p["name"]: p for p in packs}
for name in ("mobilefacenet-faceapi", "dlib-faceapi"):
    assert name in found, (name, packs)
    assert found[name]["source"] == "system", found[name]
    assert found[name]["dir"] == sys.argv[2] + "/share/facesearch/models/" + name, found[name]
assert found["mobilefacenet-faceapi"]["default"] is True
' "$TMP/out" "$PREFIX"

run models verify mobilefacenet-faceapi
check "models verify mobilefacenet-faceapi: the installed copy is whole and loads" rc_is 0
run models verify dlib-faceapi
check "models verify dlib-faceapi: the installed copy is whole and loads" rc_is 0

# A library of three people (the query photo left out), built and searched as that user.
for person in Tony_Blair Serena_Williams Hugo_Chavez; do
  mkdir -p "$WORK/photos/$person"
  cp "$DATA/people/$person"/*.jpg "$WORK/photos/$person/"
done
rm "$WORK/photos/Tony_Blair/lfw_Tony_Blair_0001.jpg"
cp "$DATA/people/Tony_Blair/lfw_Tony_Blair_0001.jpg" "$WORK/query.jpg"
[ ${#as_user[@]} -gt 0 ] && chown -R nobody:nogroup "$WORK"
FILES=$(find "$WORK/photos" -type f | wc -l)
TONY=$(find "$WORK/photos/Tony_Blair" -type f | wc -l)

run index --quiet "$WORK/photos"
check "index of $FILES photos into the default library (under the empty home)" \
  eval 'rc_is 0 && out_has "Indexed $FILES files" && [ -f "$WORK/home/.local/share/facesearch/library.db" ]'

run search -q "$WORK/query.jpg" --format json
py "search: Tony Blair's other photos come back, nobody else's, with the default pack" '
import json, sys
d = json.load(open(sys.argv[1]))
paths = [m["path"] for m in d["matches"]]
assert len(paths) >= int(sys.argv[3]) - 1, paths
assert all(p.startswith(sys.argv[2] + "/Tony_Blair/") for p in paths), paths
assert d["model"] == "mobilefacenet-faceapi", d["model"]
' "$TMP/out" "$WORK/photos" "$TONY"

# serve on a free port, with the token from the environment (as the systemd unit gives it).
PORT=$("$PY" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
TOKEN=install-test-token-0123456789
"${user_env[@]}" FACESEARCH_TOKEN=$TOKEN "${as_user[@]}" facesearch serve --port "$PORT" >"$TMP/serve.out" 2>"$TMP/serve.err" &
SERVE=$!
# The server prints "Open URL" once it listens: wait for that line (not for a time), up to 120 s on a
# slow machine, stopping early if it died.
for _ in $(seq 1 1200); do
  grep -q "^Open " "$TMP/serve.out" 2>/dev/null && break
  kill -0 "$SERVE" 2>/dev/null || break
  sleep 0.1
done
check "serve: listening (its 'Open' line)" grep -q "^Open " "$TMP/serve.out"
code=$(curl -s -o "$TMP/out" -w '%{http_code}' "http://127.0.0.1:$PORT/api/v1/status")
check "serve: /api/v1/status without the token is refused (401)" eval '[ "$code" = 401 ]'
code=$(curl -s -o "$TMP/out" -w '%{http_code}' -H "Authorization: Bearer $TOKEN" "http://127.0.0.1:$PORT/api/v1/status")
py "serve: /api/v1/status with \$FACESEARCH_TOKEN answers 200 with the library's $FILES photos" '
import json, sys
assert sys.argv[2] == "200", sys.argv[2]
d = json.load(open(sys.argv[1]))
assert d["photos"] == int(sys.argv[3]), d
' "$TMP/out" "$code" "$FILES"
kill -TERM "$SERVE" 2>/dev/null
for _ in $(seq 1 600); do kill -0 "$SERVE" 2>/dev/null || break; sleep 0.1; done   # a deadline, 60 s
if kill -0 "$SERVE" 2>/dev/null; then kill -KILL "$SERVE"; wait "$SERVE"; rc=999; else wait "$SERVE"; rc=$?; fi
check "serve: stops on SIGTERM (status 143)" rc_is 143
[ "$rc" -eq 143 ] || sed -n '1,5s/^/     serve: /p' "$TMP/serve.err"

# ---- make deb ------------------------------------------------------------------------------------
if ! command -v cpack >/dev/null || ! command -v dpkg-deb >/dev/null; then
  echo "skip the .deb: cpack or dpkg-deb is missing"
  finish
fi
(cd "$BUILD" && cpack -G DEB -B "$TMP/deb") >"$TMP/out" 2>"$TMP/err"
rc=$?
DEB=$(ls "$TMP"/deb/facesearch_*_*.deb 2>/dev/null | head -n 1)
check "cpack -G DEB: a facesearch_VERSION_ARCH.deb" eval 'rc_is 0 && [ -n "$DEB" ]'
if [ -n "$DEB" ]; then
  dpkg-deb --contents "$DEB" | awk '{print $6}' >"$TMP/contents"
  for f in ./usr/bin/facesearch ./usr/lib/facesearch/libonnxruntime.so.1 \
    ./usr/share/facesearch/models/mobilefacenet-faceapi/manifest.json \
    ./usr/share/facesearch/models/dlib-faceapi/manifest.json ./usr/lib/systemd/user/facesearch-serve.service; do
    check "the .deb holds $f" grep -qxF "$f" "$TMP/contents"
  done
  dpkg-deb --field "$DEB" Depends >"$TMP/out"
  check "the .deb depends on the system's libraries (OpenCV, SQLite, curl, libzip, TurboJPEG), not on an ONNX Runtime package" \
    eval 'out_has libopencv-core && out_has libsqlite3 && out_has libcurl && out_has libzip && out_has libturbojpeg && ! out_has onnxruntime'
  dpkg-deb -x "$DEB" "$TMP/unpacked"
  check "the .deb's unit runs /usr/bin/facesearch" \
    grep -qxF "ExecStart=/usr/bin/facesearch serve" "$TMP/unpacked/usr/lib/systemd/user/facesearch-serve.service"
  # Relocatable: the unpacked binary finds its ONNX Runtime and packs beside it.
  timeout 60 "${user_env[@]}" "$TMP/unpacked/usr/bin/facesearch" models list --format json >"$TMP/out" 2>"$TMP/err"
  py "the .deb's binary, unpacked, runs and finds its packs beside it" '
import json, sys
dirs = sorted(p["dir"] for p in json.load(open(sys.argv[1]))["packs"] if p["source"] == "system")
assert dirs == [sys.argv[2] + "/usr/share/facesearch/models/" + n for n in ("dlib-faceapi", "mobilefacenet-faceapi")], dirs
' "$TMP/out" "$TMP/unpacked"
fi

finish
