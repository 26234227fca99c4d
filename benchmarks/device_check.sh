#!/usr/bin/env bash
# The GPU benchmark of issue 18, prepared for a GPU machine that has torch (2.11) and no package
# registry: installs asdlab into that machine's torch environment from the wheels carried in
# wheelhouse/ (make them here first: bash benchmarks/make_wheelhouse.sh), generates a small
# paper-like factory dataset, and runs benchmarks/gpu.py, writing its table and log into $OUT.
#
#   bash benchmarks/device_check.sh                     # on the GPU machine, in the repository root
#   DEVICE=cpu PRESET=smoke MACHINES=fan OUT=/tmp/dc PY=python bash benchmarks/device_check.sh
#                                                       # the CPU path, on a tiny dataset
#
# Settings (environment): DEVICE (cuda), PY (python3: the torch environment), OUT (./device_out),
# PRESET (paper), MACHINES ("fan gearbox": 2 x 1200 clips of 10 s), METHODS (the 7 distinct
# networks), PRECISIONS ("fp32 bf16"), BATCHES (the device epoch's batches; empty: the whole
# epoch), BUDGET (gpu.py starts no method after it, 360 s), LIMIT (the whole script's seconds, 585:
# the benchmark runs under `timeout` for what is left, at most 540 s), DATA, CACHE (under /tmp).
# Exit status: gpu.py's (124 when the timeout stopped it; the table written so far is in $OUT).
set -uo pipefail
export PYTHONUNBUFFERED=1
cd "$(dirname "$0")/.."
DEVICE=${DEVICE:-cuda}
PY=${PY:-python3}
OUT=${OUT:-$PWD/device_out}
PRESET=${PRESET:-paper}
MACHINES=${MACHINES:-fan gearbox}
METHODS=${METHODS:-tastgram_noisy_arcmix sc_noisy_arcmix stgram_arcface sc_adacos guided_clustering contrastive_ae_cnn ae_mse}
PRECISIONS=${PRECISIONS:-fp32 bf16}
BATCHES=${BATCHES:-}
BUDGET=${BUDGET:-360}
LIMIT=${LIMIT:-585}
DATA=${DATA:-/tmp/asdlab-device-data/$PRESET}
CACHE=${CACHE:-/tmp/asdlab-device-cache}
mkdir -p "$OUT"
exec > >(tee -a "$OUT/device_check.log") 2>&1
step() { echo "== $(date +%T) +${SECONDS}s: $*"; }

step "machine"
uname -m; nproc
[ "$DEVICE" = cpu ] || nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader || true
$PY -c "import sys, torch; print(sys.version.split()[0], 'torch', torch.__version__, 'cuda', torch.cuda.is_available())" || exit 3

step "install asdlab from wheelhouse/ (no index)"
[ -d wheelhouse ] || { echo "no wheelhouse/: run bash benchmarks/make_wheelhouse.sh before carrying the tree"; exit 3; }
PIP="$PY -m pip install --quiet --no-index --find-links wheelhouse --disable-pip-version-check --no-build-isolation"
if [ -f wheelhouse/ALL ]; then
    $PIP -e . || exit 3
else
    # the training path's dependencies only (the notebooks' jupyter/plotly wheels stay behind)
    $PY -c "import soundfile" 2>/dev/null || $PIP soundfile || exit 3
    $PIP --no-deps -e . || { echo "editable install failed: using PYTHONPATH=$PWD"; export PYTHONPATH=$PWD; }
fi
$PY -c "import asdlab, soundfile; from asdlab.runs import run_method; print('asdlab', asdlab.__version__, 'from', asdlab.__file__)" || exit 3

step "factory data: --preset $PRESET --machines $MACHINES"
$PY -m asdlab synth --preset "$PRESET" --machines $MACHINES --out "$DATA" --jobs "$(nproc)" --quiet || exit 3
du -sh "$DATA"

left=$((LIMIT - SECONDS))
[ "$left" -gt 540 ] && left=540
step "benchmarks/gpu.py under timeout ${left}s"
timeout "$left" $PY benchmarks/gpu.py --data "$DATA" --preset "$PRESET" --device "$DEVICE" --methods $METHODS \
    --precision $PRECISIONS ${BATCHES:+--batches "$BATCHES"} --budget "$BUDGET" --cache "$CACHE" \
    --out "$OUT/gpu_table.md"
rc=$?
step "done (gpu.py exit $rc); table in $OUT/gpu_table.md"
cat "$OUT/gpu_table.md" 2>/dev/null
exit "$rc"
