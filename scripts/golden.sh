#!/usr/bin/env bash
# Regenerates the reference detections in tests/data/golden/ with Python onnxruntime.
#
#   scripts/golden.sh
#
# What it does:
#   1. installs onnxruntime 1.31.1, numpy and Pillow into .deps/pyref (pip --target, no venv), unless
#      they are already there;
#   2. checks that models/ holds centernet.onnx, nanodet.onnx and coco80.txt;
#   3. runs scripts/golden.py on the sample images in .deps/media (put there by scripts/setup.sh), which
#      writes tests/data/golden/<model>/<image>.json and, for dog.jpg, <model>/dog.raw.json.
# The rules golden.py follows are described in tests/data/README.md. Not run in CI: the golden files are
# committed, and the Rust tests compare against them.
set -euo pipefail

ORT_VERSION="1.31.1"
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
PYREF="$ROOT/.deps/pyref"
MEDIA="$ROOT/.deps/media"
IMAGES=(dog.jpg person.jpg kite.jpg horses.jpg giraffe.jpg)

log() { printf '[golden] %s\n' "$*" >&2; }
die() { printf '[golden] error: %s\n' "$*" >&2; exit 1; }

install_python_deps() {
    if PYTHONPATH="$PYREF" python3 - "$ORT_VERSION" 2>/dev/null <<'PY'
import sys
import numpy, PIL, onnxruntime
sys.exit(onnxruntime.__version__ != sys.argv[1])
PY
    then log "onnxruntime $ORT_VERSION, numpy, Pillow present"; return; fi
    log "installing onnxruntime $ORT_VERSION, numpy, Pillow into .deps/pyref"
    python3 -m pip install --quiet --target "$PYREF" "onnxruntime==$ORT_VERSION" numpy pillow \
        || die "pip install into .deps/pyref failed"
}

ensure_models() {
    for f in centernet.onnx nanodet.onnx coco80.txt; do
        [ -f "$ROOT/models/$f" ] || die "models/$f is missing (see models/README.md)"
    done
}

check_media() {
    for f in "${IMAGES[@]}"; do
        [ -f "$MEDIA/$f" ] || die ".deps/media/$f is missing: run scripts/setup.sh first"
    done
}

main() {
    case "${1:-}" in
        "") ;;
        -h|--help) sed -n '2,15p' "${BASH_SOURCE[0]}"; exit 0 ;;
        *) die "unknown option '$1' (try --help)" ;;
    esac
    cd "$ROOT"
    install_python_deps
    ensure_models
    check_media
    PYTHONPATH="$PYREF" python3 scripts/golden.py --out tests/data/golden --models models --media .deps/media \
        --images "${IMAGES[@]}"
    log "golden files written to tests/data/golden/"
}

main "$@"
