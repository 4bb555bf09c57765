#!/usr/bin/env bash
# bench/gpu-check.sh [--quick] [--out DIR]: the one-shot GPU check (issue 21). Run from the repository root after
# `npm ci` and the set-up (`npm run setup`, which compiles dist/). Every result is JSON in one folder
# (default gpu-check-<UTC date>):
#   driver.json     Vulkan loader, ICD files, NVIDIA ICD / libGLX_nvidia / nvidia-smi, the adapter Dawn picks
#                   (vendor, architecture, device, description, backend, software or not, limits, largest batch)
#   webgpu.json     frames/s at batch 1, 8, 32, 64 (those the adapter's limits allow; the others are listed
#                   with the limit that stops them) and the ratio to wasm on this machine's CPU, and people
#                   structured per second (one GPU batch of 8 best shots) against wasm
#   inference.json  `cvcore bench inference --backend webgpu --json` (the engine path; names the adapter)
#   capacity-N/     `cvcore bench capacity` at N 1080p streams, 5 fps each, for N = 1, 4, 8, 16, 24, 32, 48, 64
#                   (15 s each, batch 32, 4 CPU threads for structuring) until one is not sustained or the
#                   8-minute budget is spent
#   summary.json    what ran, how long each step took, and the outcome
# Full mode fits in 8 minutes on a GPU machine (each step has a time budget). A software adapter is refused
# in full mode: a GPU host whose Vulkan driver is missing must fail, not measure the CPU.
# --quick (or CVCORE_GPU_CHECK_QUICK=1): the same steps on whatever adapter exists, lavapipe included (set up by
# scripts/setup-vulkan.sh), at batch 1 and 2, input 256, and one 1080p stream at 1 fps for 5 s: it proves the
# path end to end in a few minutes on a 2-core machine; its figures mean nothing about a GPU.
set -uo pipefail
cd "$(dirname "$0")/.."

QUICK="${CVCORE_GPU_CHECK_QUICK:-0}"
OUT=""
while [ $# -gt 0 ]; do
  case "$1" in
    --quick) QUICK=1 ;;
    --out) OUT="${2:?--out needs a folder}"; shift ;;
    -h|--help) sed -n '2,20p' "$0"; exit 0 ;;
    *) echo "gpu-check: unknown argument $1 (use --quick, --out DIR)" >&2; exit 2 ;;
  esac
  shift
done
OUT="${OUT:-gpu-check-$(date -u +%Y%m%dT%H%M%SZ)}"
mkdir -p "$OUT"
CLI=(node bin/cvcore.js)
START=$(date +%s)
STEPS=()
log() { printf '[gpu-check %3ds] %s\n' "$(( $(date +%s) - START ))" "$*" >&2; }
# step NAME FILE SECONDS CMD...: runs CMD under a time limit, stdout to FILE, and records the outcome.
step() {
  local name="$1" file="$2" limit="$3"; shift 3
  local t0=$(date +%s) rc
  log "$name: $* (at most ${limit}s)"
  timeout --signal=INT --kill-after=30 "$limit" "$@" > "$file" 2> "$OUT/$name.log"; rc=$?
  local took=$(( $(date +%s) - t0 ))
  STEPS+=("{\"step\":\"$name\",\"rc\":$rc,\"seconds\":$took,\"timedOut\":$([ $rc -eq 124 ] && echo true || echo false),\"file\":\"$file\"}")
  log "$name: exit $rc after ${took}s"
  return $rc
}
finish() {
  local ok="$1" why="$2"
  local IFS=,
  printf '{"kind":"gpu-check","at":"%s","quick":%s,"ok":%s,"why":%s,"seconds":%d,"steps":[%s]}\n' \
    "$(date -u +%FT%TZ)" "$([ "$QUICK" = 1 ] && echo true || echo false)" "$ok" "$(node -e 'process.stdout.write(JSON.stringify(process.argv[1]))' "$why")" \
    "$(( $(date +%s) - START ))" "${STEPS[*]}" > "$OUT/summary.json"
  log "wrote $OUT/summary.json: $why"
  [ "$ok" = true ]; exit $?
}

if [ ! -f dist/cli/index.js ]; then echo "gpu-check: not built: run npm run setup (or npx tsc -p tsconfig.json) first" >&2; exit 2; fi

if [ "$QUICK" = 1 ]; then
  # No GPU needed: use the private lavapipe when there is no other Vulkan driver configured.
  if [ -z "${VK_DRIVER_FILES:-}" ] && [ -s .cache/vulkan/lvp_icd.json ]; then eval "$(bash scripts/setup-vulkan.sh)"; fi
  SOFT=(--allow-software); BATCHES=1,2; RUNS=1; WASM=2; SIZE=256; WORKERS=1
  CAP_COUNTS=(1); CAP_FPS=1; CAP_SECONDS=5; CAP_BATCH=2; TOTAL=600
  T_DRIVER=120; T_WEBGPU=420; SHOTS=2
else
  # 8 minutes in all: each step's limit, and the capacity sweep gets what is left of TOTAL (kill-after included).
  SOFT=(); BATCHES=1,8,32,64; RUNS=3; WASM=8; SIZE=512; WORKERS=4
  CAP_COUNTS=(1 4 8 16 24 32 48 64); CAP_FPS=5; CAP_SECONDS=15; CAP_BATCH=32; TOTAL=440
  T_DRIVER=60; T_WEBGPU=150; SHOTS=8
fi

# 1. A Vulkan driver Dawn can use, and the adapter.
if ! step driver "$OUT/driver.json" "$T_DRIVER" "${CLI[@]}" bench gpu-driver "${SOFT[@]}" --json; then
  node -e 'const r=require(process.argv[1]); console.error(`gpu-check: ${r.verdict}`)' "$(realpath "$OUT/driver.json")" || cat "$OUT/driver.log" >&2
  finish false "no usable Vulkan adapter (see driver.json)"
fi
node -e 'const r=require(process.argv[1]); console.error(`gpu-check: ${r.verdict}`)' "$(realpath "$OUT/driver.json")"

# 2. Frames/s per batch size (sized to the adapter's limits) and the ratio to wasm on this CPU.
step webgpu "$OUT/webgpu.json" "$T_WEBGPU" "${CLI[@]}" bench webgpu --batches "$BATCHES" --runs "$RUNS" --wasm-frames "$WASM" --input-size "$SIZE" --structure-shots "$SHOTS" --json \
  || finish false "bench webgpu failed (see webgpu.log)"

# 3. The engine path (batcher -> GPU thread), naming the adapter. Too slow for lavapipe: full mode only.
if [ "$QUICK" != 1 ]; then
  step inference "$OUT/inference.json" 90 "${CLI[@]}" bench inference --backend webgpu --workers 2 --seconds 3 --json || log "bench inference failed (see inference.log); going on"
fi

# 4. Capacity: 1080p streams at CAP_FPS each, on the GPU, coarse counts until one is not sustained.
CAP_LAST=0
for n in "${CAP_COUNTS[@]}"; do
  left=$(( TOTAL - ($(date +%s) - START) ))
  if [ "$left" -lt $(( CAP_SECONDS + 60 )) ]; then log "capacity: time budget spent before $n streams"; break; fi
  step "capacity-$n" "$OUT/capacity-$n.json" "$left" "${CLI[@]}" bench capacity --backend webgpu --workers "$WORKERS" --batch "$CAP_BATCH" --size 1920x1080 \
    --fps "$CAP_FPS" --min-streams "$n" --max-streams "$n" --seconds "$CAP_SECONDS" $([ "$QUICK" = 1 ] && echo "--input-size $SIZE") --json --out "$OUT/capacity-$n" \
    || { log "capacity at $n streams failed (see capacity-$n.log)"; break; }
  sustained=$(node -e 'const r=require(process.argv[1]); process.stdout.write(String(r.capacity_streams))' "$(realpath "$OUT/capacity-$n.json")" 2>/dev/null || echo 0)
  if [ "$sustained" -ge "$n" ]; then CAP_LAST=$n; else log "capacity: $n streams not sustained"; break; fi
done
finish true "done; capacity: ${CAP_LAST} stream(s) of 1080p at ${CAP_FPS} fps sustained (largest count tried that held)"
