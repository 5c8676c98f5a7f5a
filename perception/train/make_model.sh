#!/usr/bin/env bash
# Rebuilds the committed detector from nothing: simulator data, training, held-out figures.
# Usage: bash perception/train/make_model.sh [DATA_DIR]   (about 12 minutes on 2 cores)
set -euo pipefail
cd "$(dirname "$0")/../.."
DATA=${1:-/tmp/minesim-detector-data}
cargo build --release -p sim-world --bin minesim
M=target/release/minesim
pip install -q numpy onnx
# Training set: worlds of seeds 1–70 (train) and 100–109 (the script's validation split),
# both sensing levels, dust 0, 0, 0.25, 0.5, 0.8 in turn.
$M dataset --seeds 1..=70 --samples-per-seed 40 --sensing fleet,raycast --out "$DATA/train"
$M dataset --seeds 100..=109 --samples-per-seed 40 --sensing fleet,raycast --out "$DATA/val"
python3 perception/train/merge.py "$DATA/train" "$DATA/val" "$DATA/trainval"
python3 perception/train/train.py --data "$DATA/trainval" --out assets/models/detector.onnx \
    --epochs 60 --seed 1
# Held-out test set: seeds never seen in training.
$M dataset --seeds 200..=229 --samples-per-seed 40 --sensing fleet,raycast --out "$DATA/test"
{
    echo "# Held-out figures of detector.onnx"
    echo
    echo "Made by \`bash perception/train/make_model.sh\` (training: \`python3 perception/train/train.py --epochs 60 --seed 1\`"
    echo "on seeds 1–70 and 100–109); scored on seeds 200–229 by"
    echo "\`minesim detector-eval --data DIR/test --json assets/models/detector.metrics.json\`."
    echo
    $M detector-eval --data "$DATA/test" --json assets/models/detector.metrics.json
} | tee assets/models/detector.metrics.md
