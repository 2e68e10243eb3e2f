#!/usr/bin/env bash
# Reproduces models/demo/ from a fresh machine: installs what the recipe
# needs, trains (resuming from build/train/checkpoint.pt if a run was cut
# short), writes the model directory, and prints how long it took.
#   tools/train/train.sh [OUT_DIR] [extra train.py flags, e.g. --minutes 30]
# Default OUT_DIR: models/demo. On a CUDA machine the same recipe runs on the GPU.
set -euo pipefail
cd "$(dirname "$0")/../.."
out="${1:-models/demo}"
shift || true

scripts/install-deps
start=$(date +%s)
set +e
# Stage one's schedule is laid out for 4,000 steps; stage two (FocusStage in
# train.py) takes over at step 2,380, where the run behind the shipped model
# switched, and trains 1,500 steps.
/usr/bin/python3 tools/train/train.py --work build/train --out "$out" --steps 4000 \
  --focus-from 2380 --focus-steps 1500 --tokens-per-step 10240 --eval-every 250 "$@"
rc=$?
set -e
took=$(( $(date +%s) - start ))
printf 'train.sh: exit %d after %dh%02dm%02ds (wall clock, this invocation)\n' \
  "$rc" $((took / 3600)) $((took % 3600 / 60)) $((took % 60))
[ "$rc" -eq 3 ] && echo "train.sh: stopped early with a checkpoint; run again to resume"
exit "$rc"
