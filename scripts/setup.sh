#!/usr/bin/env bash
# One idempotent set-up for a fresh machine, run by `npm start` and `npm test` before they do anything else.
# Each step checks whether its work is already done, so a second run costs about a second.
#   1. Debian packages (ffmpeg, nats-server, CJK fonts) with apt-get when a command or font is missing;
#   2. npm packages with `npm ci` when package-lock.json changed since the last install;
#   3. sample media taken out of Debian packages (apt-get download + dpkg -x) into .cache/media (footage,
#      vehicle photos);
#   4. model files copied from @vladmandic/human into models/files with a sha256 manifest;
#   5. the TypeScript build (tsc) when a source file is newer than the last build, then the plate
#      and face cameras' footage (synth/, .cache/media/plates.mp4 and faces.mp4) and centernet's backbone translated to ONNX (models/files,
#      sha256 from the manifest) for the onnx backend;
#   6. the investigators' console (console/, its own npm package) when its build is missing or stale.
#   7. software Vulkan for the webgpu backend (scripts/setup-vulkan.sh), for `npm test` or CVCORE_SETUP_VULKAN=1.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
CACHE="${CVCORE_CACHE:-$ROOT/.cache}"
mkdir -p "$CACHE"
log() { printf '[setup] %s\n' "$*" >&2; }

# --- 1. Debian packages -------------------------------------------------------------------------
need_pkgs=()
command -v ffmpeg >/dev/null 2>&1 || need_pkgs+=(ffmpeg)
command -v ffprobe >/dev/null 2>&1 || need_pkgs+=(ffmpeg)
command -v nats-server >/dev/null 2>&1 || [ -x /usr/sbin/nats-server ] || need_pkgs+=(nats-server)
# CJK fonts for the synthetic plates (synth/): librsvg falls back silently to another face when a family is
# missing, so each family the renderer names is checked, and its Debian package installed when absent.
command -v fc-list >/dev/null 2>&1 || need_pkgs+=(fontconfig)
zh_fonts=$(fc-list :lang=zh family 2>/dev/null || true)
grep -q 'Noto Sans CJK SC' <<<"$zh_fonts" || need_pkgs+=(fonts-noto-cjk)
grep -q 'WenQuanYi Zen Hei' <<<"$zh_fonts" || need_pkgs+=(fonts-wqy-zenhei)
grep -q 'WenQuanYi Micro Hei' <<<"$zh_fonts" || need_pkgs+=(fonts-wqy-microhei)
grep -q 'AR PL UMing CN' <<<"$zh_fonts" || need_pkgs+=(fonts-arphic-uming)
# The console's browser test drives Debian's chromium; only the tests need it (npm test runs this as pretest).
if [ "${npm_lifecycle_event:-}" = pretest ] || [ "${CVCORE_SETUP_BROWSER:-}" = 1 ]; then
  [ -x /usr/bin/chromium ] || need_pkgs+=(chromium)
fi
if [ ${#need_pkgs[@]} -gt 0 ]; then
  mapfile -t need_pkgs < <(printf '%s\n' "${need_pkgs[@]}" | sort -u)
  SUDO=""
  if [ "$(id -u)" -ne 0 ]; then
    if command -v sudo >/dev/null 2>&1; then SUDO="sudo -n"; else
      log "missing Debian packages: ${need_pkgs[*]}"
      log "this user is not root and sudo is absent; install them with: apt-get install -y ${need_pkgs[*]}"
      exit 1
    fi
  fi
  log "installing Debian packages: ${need_pkgs[*]}"
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq --no-install-recommends "${need_pkgs[@]}" >/dev/null
fi

# --- 2. npm packages ----------------------------------------------------------------------------
lock_sum=$(sha256sum package-lock.json | cut -d' ' -f1)
if [ ! -f node_modules/.cvcore-lock ] || [ "$(cat node_modules/.cvcore-lock)" != "$lock_sum" ]; then
  log "installing npm packages (npm ci)"
  npm ci --no-audit --no-fund --loglevel=error
  echo "$lock_sum" > node_modules/.cvcore-lock
fi

# --- 3. sample media from Debian packages ------------------------------------------------------
MEDIA="$CACHE/media"
mkdir -p "$MEDIA"
fetch_media() { # package, path inside the package, file name
  local pkg=$1 inner=$2 name=$3
  [ -s "$MEDIA/$name" ] && return 0
  local work; work=$(mktemp -d)
  if ! ls "$CACHE"/debs/"${pkg}"_*.deb >/dev/null 2>&1; then
    mkdir -p "$CACHE/debs"
    log "downloading Debian package $pkg for $name"
    (cd "$CACHE/debs" && apt-get download "$pkg" >/dev/null 2>&1) || {
      [ "$(id -u)" -eq 0 ] && apt-get update -qq && (cd "$CACHE/debs" && apt-get download "$pkg" >/dev/null)
    }
  fi
  dpkg-deb --fsys-tarfile "$(ls "$CACHE"/debs/"${pkg}"_*.deb | head -n1)" | tar -x -C "$work" ".$inner"
  mv "$work$inner" "$MEDIA/$name"
  rm -rf "$work"
}
fetch_media opencv-doc /usr/share/doc/opencv-doc/examples/data/vtest.avi vtest.avi
fetch_media opencv-doc /usr/share/doc/opencv-doc/examples/data/messi5.jpg messi5.jpg
fetch_media python3-skimage /usr/lib/python3/dist-packages/skimage/data/astronaut.png astronaut.png
fetch_media python3-skimage /usr/lib/python3/dist-packages/skimage/data/motorcycle_left.png motorcycle_left.png
# Vehicle photos with their plate spot towards the camera, for the synthetic plates (synth/vehicles.ts):
# dlib's car-detector test images (street scenes, taxis and cars from behind, an SUV and a pickup from the
# front), opencv's double-decker bus, node-opencv's two side views (passing traffic in the demo footage) and
# opencv's motion-blurred plate (a robustness case).
fetch_media libdlib19.1 /usr/share/doc/libdlib19.1/examples/mmod_cars_test_image.jpg mmod_cars_test_image.jpg
fetch_media libdlib19.1 /usr/share/doc/libdlib19.1/examples/mmod_cars_test_image2.jpg mmod_cars_test_image2.jpg
fetch_media opencv-doc /usr/share/doc/opencv-doc/opencv4/html/pexels_double_decker_bus.jpg pexels_double_decker_bus.jpg
fetch_media opencv-doc /usr/share/doc/opencv-doc/examples/data/licenseplate_motion.jpg licenseplate_motion.jpg
fetch_media node-opencv /usr/share/doc/node-opencv/examples/files/car1.jpg node-opencv-car1.jpg
fetch_media node-opencv /usr/share/doc/node-opencv/examples/files/car2.jpg node-opencv-car2.jpg
# RTP cannot carry vtest.avi's MS-MPEG4v3: convert it once to H.264 so publishers only copy packets.
if [ ! -s "$MEDIA/vtest.mp4" ]; then
  log "converting vtest.avi to H.264 once (for the RTSP publishers)"
  ffmpeg -loglevel error -y -i "$MEDIA/vtest.avi" -c:v libx264 -preset veryfast -tune zerolatency \
    -g 20 -bf 0 -pix_fmt yuv420p -an "$MEDIA/vtest.mp4.tmp.mp4"
  mv "$MEDIA/vtest.mp4.tmp.mp4" "$MEDIA/vtest.mp4"
fi
rm -rf "$CACHE/debs"

# --- 4. model files ------------------------------------------------------------------------------
node scripts/copy-models.mjs

# --- 5. build ------------------------------------------------------------------------------------
stamp=dist/.build-stamp
if [ ! -f "$stamp" ] || [ -n "$(find . -path ./node_modules -prune -o -path ./dist -prune -o -path ./.cache -prune -o -path ./console/node_modules -prune -o -path ./console/src -prune -o -path ./console/dist -prune -o \( -name '*.ts' -o -name 'tsconfig.json' \) -newer "$stamp" -print -quit)" ]; then
  log "building (tsc)"
  npx --no-install tsc -p tsconfig.json
  touch "$stamp"
fi

# --- 5a. the plate camera's footage ---------------------------------------------------------------
# synth/footage.ts renders plates.mp4 (vehicles from the photos above with mainland plates, H.264 -g 20 -bf 0
# like vtest.mp4) and plates.json (the truth) once; again only when the footage generator's version changes.
node dist/synth/footage-cli.js --check 2>/dev/null || {
  log "making the plate camera's footage (.cache/media/plates.mp4)"
  node dist/synth/footage-cli.js
}

# --- 5a'. the face camera's footage --------------------------------------------------------------
# synth/faces.ts makes faces.mp4 (astronaut.png: a person who is on camera 7 s of every 16, H.264 -g 20 -bf 0)
# and faces.json (the truth) with ffmpeg once; again only when the generator's version changes.
node dist/synth/faces-cli.js --check 2>/dev/null || {
  log "making the face camera's footage (.cache/media/faces.mp4)"
  node dist/synth/faces-cli.js
}

# --- 5b. centernet's backbone translated to ONNX for the onnx backend ------------------------------
# Deterministic: the manifest holds the sha256 the file must have; it is made again only when it is missing
# or differs (a new converter, or new weights).
node dist/models/convert-onnx-cli.js --check >/dev/null 2>&1 || {
  log "translating centernet's backbone to ONNX (models/files)"
  node dist/models/convert-onnx-cli.js >&2
}

# --- 6. console ----------------------------------------------------------------------------------
# A separate npm package (console/package.json and its lockfile) built by Vite into console/dist, which the
# API serves at /console/.
clock_sum=$(sha256sum console/package-lock.json | cut -d' ' -f1)
if [ ! -f console/node_modules/.cvcore-lock ] || [ "$(cat console/node_modules/.cvcore-lock)" != "$clock_sum" ]; then
  log "installing the console's npm packages (npm ci in console/)"
  (cd console && npm ci --no-audit --no-fund --loglevel=error)
  echo "$clock_sum" > console/node_modules/.cvcore-lock
fi
cstamp=console/dist/.build-stamp
if [ ! -f "$cstamp" ] || [ ! -f console/dist/index.html ] || [ -n "$(find console/src console/index.html console/vite.config.ts console/tsconfig.json console/package-lock.json -newer "$cstamp" -print -quit)" ]; then
  log "building the console (vite)"
  (cd console && npm run --silent build >&2)
  touch "$cstamp"
fi

# --- 7. software Vulkan (lavapipe) for the webgpu backend's tests ----------------------------------
# Only where it is used: `npm test` (npm runs this as the pretest script) or an explicit request.
if [ "${CVCORE_SETUP_VULKAN:-0}" = 1 ] || [ "${npm_lifecycle_event:-}" = pretest ]; then
  bash scripts/setup-vulkan.sh >/dev/null
fi
