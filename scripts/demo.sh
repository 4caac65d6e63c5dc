#!/usr/bin/env bash
# Sets up, builds and runs the roadeye demo: the sample pedestrian video, looping like a live camera,
# analysed with the default model (detection, tracking); track summaries are logged every 5 s.
# Runs until Ctrl-C; arguments go to `roadeye run` (e.g. --for 60 to stop after a minute).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
bash scripts/setup.sh
cargo build --release --locked --quiet
exec ./target/release/roadeye run --config configs/demo.toml "$@"
