#!/usr/bin/env bash
# Sets up, builds and runs roadeye's demo on this machine: the default model (CenterNet, COCO-80) on the
# sample images. Prints the detections and writes annotated copies to out/annotated/.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
bash scripts/setup.sh "$@"
cargo build --release --locked --quiet
OUT="out/annotated"
./target/release/roadeye detect .deps/media/*.jpg --out "$OUT"
echo "annotated images: $ROOT/$OUT" >&2
