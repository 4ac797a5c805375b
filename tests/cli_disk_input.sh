#!/usr/bin/env bash
# CLI tests of what facesearch reads from disk (issue 10, items 4-6): FIFOs, devices and huge files
# named as photos, images that claim too many pixels, symbolic link loops, and folders that cannot be
# read or have gone away (their photos must stay in the library, and the run must say so).
# Usage: bash tests/cli_disk_input.sh PATH/TO/facesearch   (from the repository root; CTest does this)
# Prints "N passed, M failed". Needs the models (`make setup`, or FACESEARCH_MODELS) and /usr/bin/python3;
# the permission checks run the binary as user `nobody` with setpriv (skipped, and said, without it).
source "$(dirname "$0")/smoke_lib.sh" "$@"

MODELS=${FACESEARCH_MODELS:-${XDG_DATA_HOME:-$HOME/.local/share}/facesearch/models/dlib-faceapi}
export FACESEARCH_DB=$TMP/library.db
QUERY=$DATA/people/Tony_Blair/lfw_Tony_Blair_0001.jpg
NOFACE=$DATA/noface

# quick ARGS...: like fs, for commands that used to hang: a hang ends after 20 s with status 124,
# which fails the status check (the time itself is not checked).
quick() {
  timeout 20 "$BIN" "$@" >"$TMP/out" 2>"$TMP/err"
  rc=$?
}

# ---- files that are not photos: FIFO, device, 2 GB, symbolic link loop --------------------------
mkfifo "$TMP/fifo.jpg"
ln -s /dev/zero "$TMP/zero.jpg"
truncate -s 2G "$TMP/big.jpg"  # sparse: instant, takes no disk
ln -s loop.jpg "$TMP/loop.jpg"

quick search -q "$TMP/fifo.jpg" -t "$NOFACE"
check "FIFO as --query: exit 1 at once, says it is a named pipe" \
  eval 'rc_is 1 && err_has "fifo.jpg" && err_has "named pipe" && err_has "not a regular file"'

quick search -q "$QUERY" -t "$TMP/fifo.jpg" --format json
py "FIFO as --target: skipped as a named pipe, no hang" '
import json, sys
doc = json.load(open(sys.argv[1]))
assert any("fifo.jpg" in s["path"] and "named pipe" in s["message"] for s in doc["skipped"]), doc["skipped"]
' "$TMP/out"

quick index --db "$TMP/fifo.db" "$TMP/fifo.jpg"
check "FIFO named to index: reported as an error of that file, no hang" \
  eval '[ "$rc" -ne 124 ] && err_has "fifo.jpg" && err_has "named pipe"'

quick search -q "$TMP/zero.jpg" -t "$NOFACE"
check "link to /dev/zero as --query: exit 1 at once, says it is a device" \
  eval 'rc_is 1 && err_has "zero.jpg" && err_has "character device"'

quick search -q "$TMP/big.jpg" -t "$NOFACE"
check "2 GB file as --query: refused unread, exit 1, says its size and the limit" \
  eval 'rc_is 1 && err_has "big.jpg" && err_has "file too large (2 GiB" && err_has "1 GiB"'

quick search -q "$TMP/loop.jpg" -t "$NOFACE"
check "self-symlink query: exit 1, says it is a symbolic link loop (not that it does not exist)" \
  eval 'rc_is 1 && err_has "loop.jpg" && err_has "symbolic link loop" && err_lacks "does not exist"'

quick search -q "$QUERY" -t "$TMP/loop.jpg"
check "self-symlink target: exit 1, says it is a symbolic link loop" \
  eval 'rc_is 1 && err_has "symbolic link loop"'

# ---- images that claim too many pixels -----------------------------------------------------------
# 30000 x 30000 1-bit PNG: about 110 KB on disk, 2.7 GB as BGR pixels.
"$PY" -c '
import struct, sys, zlib
def chunk(kind, data):
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
w = h = 30000
raw = zlib.compress(b"\0" * ((1 + w // 8) * h), 9)
sys.stdout.buffer.write(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 1, 0, 0, 0, 0))
                        + chunk(b"IDAT", raw) + chunk(b"IEND", b""))
' >"$TMP/bomb.png"
quick search -q "$TMP/bomb.png" -t "$NOFACE"
check "30000x30000 PNG as --query: refused before decoding, names the file and its size" \
  eval 'rc_is 1 && err_has "bomb.png" && err_has "30000x30000 pixels" && err_has "--max-pixels"'

mkdir -p "$TMP/bombs"
cp "$TMP/bomb.png" "$TMP/bombs/a.png"
cp "$TMP/bomb.png" "$TMP/bombs/b.png"
quick index --db "$TMP/bombs.db" "$TMP/bombs"
check "two of them in one index run: both refused as errors, the run completes (exit 0)" \
  eval 'rc_is 0 && err_has "a.png" && err_has "b.png" && out_has "2 errors"'

LARGE=$DATA/bad/large_8000x6000_mark_img14.jpg  # 48 megapixels
quick search -q "$LARGE" -t "$NOFACE" --max-pixels 40
check "--max-pixels 40 refuses a 48-megapixel photo" \
  eval 'rc_is 1 && err_has "8000x6000 pixels (48 megapixels)" && err_has "limit of 40 megapixels"'
quick search -q "$LARGE" -t "$NOFACE"
check "the default limit lets it through" eval 'rc_is 0 && err_lacks "megapixels"'
quick index --db "$TMP/large.db" "$LARGE" --max-pixels 40
check "index --max-pixels 40: the photo is an error of the run" \
  eval 'rc_is 0 && err_has "limit of 40 megapixels" && out_has "1 error"'
quick search -q "$QUERY" -t "$NOFACE" --max-pixels 0
check "--max-pixels 0: usage error" eval 'rc_is 2 && err_has "--max-pixels"'
quick index --help
check "index --help: exit status 3 and --max-pixels" eval 'rc_is 0 && out_has "3    the run completed, but some folders" && out_has "--max-pixels"'

# ---- a root that is gone (an unplugged drive) ----------------------------------------------------
PHOTOS=$TMP/photos
mkdir -p "$PHOTOS/sub"
cp "$DATA/people/obama/fr_obama.jpg" "$PHOTOS/"
cp "$DATA/people/obama/fr_obama2.jpg" "$DATA/people/Tony_Blair/lfw_Tony_Blair_0001.jpg" "$PHOTOS/sub/"
fs index --db "$TMP/gone.db" "$PHOTOS"
check "index a folder of 3 photos" eval 'rc_is 0 && out_has "3 added"'
mv "$PHOTOS" "$TMP/unplugged"
fs index --db "$TMP/gone.db"
check "root gone: exit 3, named on stderr, its photos kept (0 deleted)" \
  eval 'rc_is 3 && err_has "cannot read folder $PHOTOS" && err_has "does not exist" && err_has "its 3 photos are kept" && out_has "0 deleted"'
fs status --db "$TMP/gone.db"
check "status shows the folder and that its photos are kept" \
  eval 'rc_is 0 && out_has "Images       3" && out_has "could not read" && out_has "$PHOTOS: does not exist (3 photos kept)"'
mv "$TMP/unplugged" "$PHOTOS"
fs index --db "$TMP/gone.db"
check "back again: exit 0, nothing to redo" eval 'rc_is 0 && out_has "3 unchanged" && err_lacks "cannot read"'
fs status --db "$TMP/gone.db" --format json
py "status forgets the problem once a run reads the folder" '
import json, sys
doc = json.load(open(sys.argv[1]))
assert doc["unreadable_folders"] == [] and doc["images"] == 3, doc
' "$TMP/out"

# ---- a root that is an empty mount point (a disk that is not mounted), and --forget ----------------
mv "$PHOTOS" "$TMP/mounted"
mkdir "$PHOTOS"
fs index --db "$TMP/gone.db"
check "root now empty (a mount point without its disk): exit 3, photos kept, --forget suggested" \
  eval 'rc_is 3 && err_has "cannot read folder $PHOTOS (empty" && err_has "its 3 photos are kept" && err_has "index --forget $PHOTOS" && out_has "0 deleted"'
fs status --db "$TMP/gone.db"
check "status: still 3 images, the empty folder listed" eval 'rc_is 0 && out_has "Images       3" && out_has "$PHOTOS: empty"'
rmdir "$PHOTOS"
mv "$TMP/mounted" "$PHOTOS"
fs index --db "$TMP/gone.db"
check "disk back: exit 0, 3 unchanged" eval 'rc_is 0 && out_has "3 unchanged" && err_lacks "cannot read"'
rm "$PHOTOS/fr_obama.jpg"
fs index --db "$TMP/gone.db"
check "a photo deleted from a folder that still holds others: deleted as usual" eval 'rc_is 0 && out_has "1 deleted"'
fs index --db "$TMP/gone.db" --forget "$PHOTOS/sub" "$PHOTOS"
check "--forget with a folder to index: usage error" eval 'rc_is 2 && err_has "--forget"'
fs index --db "$TMP/gone.db" --forget "$TMP/not_in_the_library"
check "--forget a folder the library has nothing from: exit 1, says so" eval 'rc_is 1 && err_has "holds no photos under"'
fs index --db "$TMP/gone.db" --forget "$PHOTOS/sub" --format json
py "--forget a subfolder: its 2 photos leave the library, files untouched" '
import json, os, sys
doc = json.load(open(sys.argv[1]))
assert doc["forgotten"][0]["photos"] == 2 and doc["library"]["images"] == 0, doc
assert len(os.listdir(sys.argv[2])) == 2
' "$TMP/out" "$PHOTOS/sub"
rm -rf "$PHOTOS"
fs index --db "$TMP/gone.db" --forget "$PHOTOS"
check "--forget a root that is gone: it leaves the library's folders" eval 'rc_is 0 && out_has "Forgot $PHOTOS: 0 photos"'
fs status --db "$TMP/gone.db"
check "status: no folders, no unreadable folder" eval 'rc_is 0 && out_has "Folders      none yet" && ! out_has "could not read"'

fs index --db "$TMP/gone.db" "$TMP/no_such_folder"
check "index FOLDER that does not exist: still an error (exit 1)" eval 'rc_is 1 && err_has "no_such_folder" && err_has "does not exist"'

# ---- folders that cannot be read, as a user permissions apply to ---------------------------------
if ! command -v setpriv >/dev/null; then
  echo "skip permission checks: setpriv (util-linux) is not installed"
else
  # Everything `nobody` needs, in a folder it owns: the binary and its ONNX Runtime (which may live
  # under /root), the models, the photos, the library.
  N=$TMP/nobody
  mkdir -p "$N/bin" "$N/lib" "$N/home"
  chmod 0711 "$TMP"
  cp "$BIN" "$N/bin/facesearch"
  ORT=$(ldd "$BIN" | awk '/libonnxruntime/ {print $3}')
  [ -n "$ORT" ] && cp -L "$ORT" "$N/lib/"
  cp -r "$MODELS" "$N/models"
  mkdir -p "$N/photos/sub"
  cp "$DATA/people/obama/fr_obama.jpg" "$N/photos/"
  cp "$DATA/people/obama/fr_obama2.jpg" "$DATA/people/Tony_Blair/lfw_Tony_Blair_0001.jpg" "$N/photos/sub/"
  chown -R nobody:nogroup "$N"
  as_nobody() {
    timeout 120 setpriv --reuid=nobody --regid=nogroup --clear-groups \
      env HOME="$N/home" LD_LIBRARY_PATH="$N/lib" "$N/bin/facesearch" "$@" >"$TMP/out" 2>"$TMP/err"
    rc=$?
  }
  as_nobody index --db "$N/lib.db" --models "$N/models" "$N/photos"
  check "as nobody: index 3 photos" eval 'rc_is 0 && out_has "3 added"'

  chmod 000 "$N/photos/sub"
  as_nobody index --db "$N/lib.db" --models "$N/models"
  check "chmod 000 subfolder: exit 3, named with the reason, its 2 photos kept, none deleted" \
    eval 'rc_is 3 && err_has "cannot read folder $N/photos/sub (Permission denied): its 2 photos are kept" && out_has "0 deleted" && out_has "1 unchanged"'
  as_nobody index --db "$N/lib.db" --models "$N/models" --quiet --format json
  py "--quiet still names it; the JSON summary lists it with the photos kept" '
import json, sys
doc = json.load(open(sys.argv[1]))
assert doc["deleted"] == 0, doc
[f] = doc["unreadable_folders"]
assert f["path"].endswith("/photos/sub") and f["reason"] == "Permission denied" and f["photos_kept"] == 2, f
assert "cannot read folder" in open(sys.argv[2]).read()
' "$TMP/out" "$TMP/err"
  as_nobody status --db "$N/lib.db"
  check "status shows the folder that could not be read, and still 3 images" \
    eval 'rc_is 0 && out_has "Images       3" && out_has "$N/photos/sub: Permission denied (2 photos kept)"'
  as_nobody search -q "$QUERY" -t "$N/photos" --models "$N/models" --format json
  py "search --target: the unreadable folder is listed as skipped" '
import json, sys
doc = json.load(open(sys.argv[1]))
assert any(s["reason"] == "folder" and s["path"].endswith("/photos/sub") for s in doc["skipped"]), doc["skipped"]
' "$TMP/out"

  chmod 000 "$N/photos"
  as_nobody index --db "$N/lib.db" --models "$N/models"
  check "chmod 000 root: exit 3, all 3 photos kept" \
    eval 'rc_is 3 && err_has "cannot read folder $N/photos (Permission denied): its 3 photos are kept" && out_has "0 deleted"'
  as_nobody status --db "$N/lib.db"
  check "status: still 3 images" eval 'rc_is 0 && out_has "Images       3"'

  chmod 755 "$N/photos" "$N/photos/sub"
  as_nobody index --db "$N/lib.db" --models "$N/models"
  check "readable again: exit 0, 3 unchanged, status clear" eval 'rc_is 0 && out_has "3 unchanged" && err_lacks "cannot read"'
  as_nobody status --db "$N/lib.db"
  check "status: no folder listed any more" eval 'rc_is 0 && ! out_has "could not read"'
fi

finish
