#!/usr/bin/env bash
# Seed corpora for the harnesses, made from ../shared/testdata, the installed model pack and the real
# binary (never committed): FUZZ_DIR/corpus/NAME. Re-running keeps what the fuzzers added.
#   fuzz/make_seeds.sh FACESEARCH_BINARY FUZZ_DIR
set -euo pipefail
bin=$(realpath "$1"); fuzz_dir=$(realpath "$2")
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd); root=$(dirname "$here")
data="$root/../shared/testdata/faces"
corpus="$fuzz_dir/corpus"
models=$(bash "$root/tools/setup.sh" print-models)/dlib-faceapi
[ -d "$data" ] || { echo "make_seeds: no test data at $data" >&2; exit 1; }
[ -f "$models/manifest.json" ] || { echo "make_seeds: no model pack at $models (run make setup)" >&2; exit 1; }
mkdir -p "$corpus"/{image_decode_fuzz,manifest_fuzz,onnx_head_fuzz,zip_fuzz,catalog_fuzz,vectors_fuzz,hnsw_fuzz}
work=$(mktemp -d); trap 'rm -rf "$work"' EXIT

# Images: the damaged and odd files of faces/bad (all but the 8000x6000 one, slow to mutate), two small
# people photos, and tiny files in every format the decoder dispatches on.
find "$data/bad" -type f ! -name 'large_*' -size -200k -exec cp {} "$corpus/image_decode_fuzz/" \;
find "$data/people" -type f -name '*.jpg' -size -20k | sort | head -n 2 | xargs -r -I{} cp {} "$corpus/image_decode_fuzz/"
photo=$(find "$data/people" -type f -name '*.jpg' | sort | head -n 1)
# Built with ASan like the rest of build-fuzz; libx265 leaks its encoder buffers (tools/lsan.supp).
ASAN_OPTIONS=detect_leaks=0 "$fuzz_dir/fuzz/fuzz_seed_images" "$photo" "$corpus/image_decode_fuzz"

# Manifests: the installed pack's, and an InsightFace-style one (SCRFD + ArcFace, no landmarker).
cp "$models/manifest.json" "$corpus/manifest_fuzz/dlib-faceapi.json"
python3 - "$models/manifest.json" "$corpus/manifest_fuzz/insightface.json" <<'PY'
import json, sys
m = json.load(open(sys.argv[1]))
m["name"] = "buffalo_l"
m["detector"].update(kind="scrfd", file="det_10g.onnx", input_size=[640, 640], mean=[127.5] * 3, scale=1 / 128)
m["embedder"].update(kind="arcface", file="w600k_r50.onnx", input_size=[112, 112], dim=512)
m["aligner"] = {"kind": "arcface", "size": 112}
for key in ("landmarker", "fast_detector"):
    m.pop(key, None)
json.dump(m, open(sys.argv[2], "w"))
PY

# ONNX graph heads: the first 64 KiB of each real model (the nodes come first) and the small synthetic
# test models when the Release build made them.
for f in "$models"/*.onnx; do head -c 65536 "$f" > "$corpus/onnx_head_fuzz/$(basename "$f")"; done
find "$root/build/tests/synthetic_models" -name '*.onnx' -size -64k 2>/dev/null | while read -r f; do
  cp "$f" "$corpus/onnx_head_fuzz/synthetic_$(basename "$(dirname "$f")")_$(basename "$f")"; done

# Zips like `models add` gets: files at the root, one top folder, stored and deflated, a folder entry,
# and the hostile kinds it must refuse (.., absolute path, symlink).
python3 - "$corpus/zip_fuzz" "$models/manifest.json" <<'PY'
import sys, zipfile
out, manifest = sys.argv[1], open(sys.argv[2]).read()
def make(name, entries, method=zipfile.ZIP_DEFLATED):
    with zipfile.ZipFile(f"{out}/{name}.zip", "w", method) as z:
        for entry in entries:
            if isinstance(entry, zipfile.ZipInfo): z.writestr(entry, "target")
            else: z.writestr(entry[0], entry[1])
make("root", [("manifest.json", manifest), ("det.onnx", b"\x08\x07" * 40)])
make("stored", [("manifest.json", manifest[:300]), ("w.onnx", b"onnx")], zipfile.ZIP_STORED)
make("top_folder", [("pack/", b""), ("pack/manifest.json", manifest[:200]), ("pack/sub/a.onnx", b"a" * 100)])
make("dotdot", [("../evil.onnx", b"x")])
make("absolute", [("/tmp/evil.onnx", b"x")])
link = zipfile.ZipInfo("link.onnx"); link.create_system = 3; link.external_attr = (0o120777 << 16)
make("symlink", [link])
PY

# A real small library (three photos, their faces) and the side files of a complete index run.
mkdir -p "$work/photos"
find "$data/people" -type f -name '*.jpg' | sort | head -n 3 | xargs -I{} cp {} "$work/photos/"
"$bin" index "$work/photos" --db "$work/library.db" --models "$models" --quiet
cp "$work/library.db" "$corpus/catalog_fuzz/library.db"
mkdir -p "$work/empty"
"$bin" index "$work/empty" --db "$work/empty.db" --models "$models" --quiet
cp "$work/empty.db" "$corpus/catalog_fuzz/empty.db"
# `index` writes LIBRARY.vectors; LIBRARY.hnsw only from 200,000 faces, so a helper writes both here.
ASAN_OPTIONS=detect_leaks=0 "$fuzz_dir/fuzz/fuzz_seed_side_files" "$work/library.db" "$models"
for side in vectors hnsw; do
  for f in "$work"/*."$side" "$work"/*.db."$side"; do [ -f "$f" ] && cp "$f" "$corpus/${side}_fuzz/$(basename "$f")"; done
done
echo "seeds: $(for d in "$corpus"/*; do printf '%s %s  ' "$(basename "$d")" "$(ls "$d" | wc -l)"; done)"
