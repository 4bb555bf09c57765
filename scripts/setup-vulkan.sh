#!/usr/bin/env bash
# Software Vulkan (Mesa lavapipe) for the webgpu inference backend, so CI and GPU-less machines can run it.
# Idempotent and unattended; a second run only checks a stamp and prints the env lines.
#   1. bookworm's libvulkan1 + mesa-vulkan-drivers with apt-get when missing. Their Mesa 22.3 lavapipe is
#      too old for Dawn (it lacks shaderUniform*ArrayDynamicIndexing), but installing it pulls in every
#      shared library the newer lavapipe links against (LLVM 15, libxcb*, libwayland, ...).
#   2. the bookworm-backports mesa-vulkan-drivers (Mesa 25) and the libdrm it needs, downloaded with a
#      PRIVATE apt sources list (.cache/vulkan/apt) and unpacked with dpkg -x into .cache/vulkan/root, so the
#      system's apt configuration and installed Mesa are left as they are.
#   3. the ICD json rewritten to an absolute library path (.cache/vulkan/lvp_icd.json): the packaged one
#      names a bare "libvulkan_lvp.so", which the loader would resolve to the system's old driver.
# Prints the env lines that select it (VK_DRIVER_FILES, LD_LIBRARY_PATH, XDG_RUNTIME_DIR, MESA_SHADER_CACHE_DIR).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
CACHE="${CVCORE_CACHE:-$ROOT/.cache}"
VK="$CACHE/vulkan"
APT="$VK/apt"
DEST="$VK/root"
ICD="$VK/lvp_icd.json"
LIBDIR="$DEST/usr/lib/x86_64-linux-gnu"
# Versions the spike verified with Dawn (webgpu 0.6.2); a change here invalidates the stamp below.
PINNED="mesa-vulkan-drivers=25.0.7-2~bpo12+1 libdrm2=2.4.123-1~bpo12+1 libdrm-amdgpu1=2.4.123-1~bpo12+1"
STAMP="$VK/.done"
log() { printf '[setup-vulkan] %s\n' "$*" >&2; }

print_env() {
  cat <<EOF
export VK_DRIVER_FILES=$ICD
export LD_LIBRARY_PATH=$LIBDIR\${LD_LIBRARY_PATH:+:\$LD_LIBRARY_PATH}
export XDG_RUNTIME_DIR=\${XDG_RUNTIME_DIR:-$VK/xdg}
export MESA_SHADER_CACHE_DIR=$VK/shader-cache
EOF
}

if [ "$(uname -m)" != x86_64 ]; then log "only x86_64 is prepared here; skipping"; exit 0; fi
if [ -f "$STAMP" ] && [ "$(cat "$STAMP")" = "$PINNED" ] && [ -s "$ICD" ] && [ -f "$LIBDIR/libvulkan_lvp.so" ]; then
  print_env
  exit 0
fi

# --- 1. the system loader and lavapipe's shared-library dependencies --------------------------------
if ! dpkg -s libvulkan1 mesa-vulkan-drivers >/dev/null 2>&1; then
  SUDO=""
  if [ "$(id -u)" -ne 0 ]; then
    if command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then SUDO="sudo -n"; else
      log "missing Debian packages: libvulkan1 mesa-vulkan-drivers"
      log "this user is not root and cannot sudo; install them with: apt-get install -y libvulkan1 mesa-vulkan-drivers"
      exit 1
    fi
  fi
  log "installing Debian packages: libvulkan1 mesa-vulkan-drivers"
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq --no-install-recommends libvulkan1 mesa-vulkan-drivers >/dev/null
fi

# --- 2. backports lavapipe, privately ----------------------------------------------------------------
mkdir -p "$APT/lists/partial" "$APT/cache/archives/partial" "$APT/debs" "$DEST"
KEYRING=/usr/share/keyrings/debian-archive-keyring.gpg
cat > "$APT/sources.list" <<EOF
deb [signed-by=$KEYRING] http://deb.debian.org/debian bookworm main
deb [signed-by=$KEYRING] http://deb.debian.org/debian bookworm-updates main
deb [signed-by=$KEYRING] http://deb.debian.org/debian-security bookworm-security main
deb [signed-by=$KEYRING] http://deb.debian.org/debian bookworm-backports main
EOF
APTO=(-o "Dir::Etc::SourceList=$APT/sources.list" -o Dir::Etc::SourceParts=/dev/null -o "Dir::State::Lists=$APT/lists"
      -o "Dir::Cache=$APT/cache" -o Debug::NoLocking=1)
# apt drops privileges to _apt for downloads; that user cannot write into a private folder owned by root.
[ "$(id -u)" -eq 0 ] && APTO+=(-o APT::Sandbox::User=root)
# shellcheck disable=SC2086
set -- $PINNED
missing=()
for spec in "$@"; do
  ls "$APT/debs/${spec%%=*}_"*.deb >/dev/null 2>&1 || missing+=("$spec")
done
if [ ${#missing[@]} -gt 0 ]; then
  log "downloading ${missing[*]} (private apt lists in $APT)"
  apt-get "${APTO[@]}" -qq update
  (cd "$APT/debs" && apt-get "${APTO[@]}" -qq download "${missing[@]}")
fi
for d in "$APT"/debs/*.deb; do dpkg -x "$d" "$DEST"; done

# --- 3. ICD json with an absolute library path -------------------------------------------------------
src="$DEST/usr/share/vulkan/icd.d/lvp_icd.x86_64.json"
[ -f "$src" ] || src=$(ls "$DEST"/usr/share/vulkan/icd.d/lvp_icd*.json | head -n1)
sed "s#\"library_path\": *\"[^\"]*\"#\"library_path\": \"$LIBDIR/libvulkan_lvp.so\"#" "$src" > "$ICD.tmp"
mv "$ICD.tmp" "$ICD"
unresolved=$(LD_LIBRARY_PATH="$LIBDIR" ldd "$LIBDIR/libvulkan_lvp.so" | grep 'not found' || true)
if [ -n "$unresolved" ]; then
  log "lavapipe has unresolved libraries:"; printf '%s\n' "$unresolved" >&2
  log "install them with: apt-get install -y libvulkan1 mesa-vulkan-drivers"
  exit 1
fi
mkdir -p "$VK/shader-cache" "$VK/xdg"
# Mesa warns (and skips its runtime-dir features) unless XDG_RUNTIME_DIR is private to the user.
chmod 700 "$VK/xdg"
echo "$PINNED" > "$STAMP"
log "lavapipe ready: $ICD"
print_env
