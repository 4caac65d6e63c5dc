#!/usr/bin/env bash
# Makes int8 versions of the shipped detectors: models/centernet-int8.onnx and
# models/nanodet-int8.onnx (with their .toml specs), by static QDQ quantisation with
# onnxruntime 1.31.1, then checks them against the fp32 models and prints parity and speed.
#
#   scripts/quantize-models.sh [OUT_DIR]     OUT_DIR defaults to models/
#
# Inputs: models/centernet.{onnx,toml} and models/nanodet.{onnx,toml} (the fp32 models; the
# preprocessing for calibration follows each spec's [input] section), the Debian package
# opencv-doc (calibration images), and the test media in .deps/media (dog, person, kite, horses,
# giraffe .jpg and vtest.avi, as scripts/setup fetches them for the parity tests).
#
# Steps:
#   1. Python packages (pinned below) are installed with `pip install --target` into
#      .deps/quantize/site (project-local, git-ignored; reused while the pins and the Python stay
#      the same). No venv needed.
#   2. Calibration set, cached in .deps/quantize/calib: `apt-get download opencv-doc` (into
#      .deps/quantize/apt), `dpkg-deb -x`, then real-scene stills of its examples/data/ and frames
#      of Megamind.avi and tree.avi (decoded with gst-launch-1.0). It never uses the parity-test
#      media: not the darknet images, and not vtest.avi (which opencv-doc also ships).
#   3. Test set, cached in .deps/quantize/test: the 5 darknet images, and 40 frames of vtest.avi
#      (one every 2 s over the whole video).
#   4. scripts/quantize_models.py quantize: quant_pre_process, then quantize_static with the
#      model's recipe (RECIPES in that file: which nodes stay fp32, and why, is in models/README.md).
#   5. scripts/quantize_models.py evaluate: fp32 vs int8 on the test set (detections with
#      score >= 0.3, spec NMS, same class + IoU >= 0.5, greedy), and speed with 1 intra-op thread.
#   6. OUT_DIR gets <name>-int8.onnx and <name>-int8.toml; their lines in OUT_DIR/SHA256SUMS are
#      replaced (other lines kept).
#
# Rerun: the same command; a second run reuses .deps/quantize (packages, opencv-doc, frames) and
# takes about 2-3 minutes on 2 cores (calibration and the speed runs). Delete .deps/quantize to
# start from scratch. Quantisation is deterministic for a given calibration set, but the bytes
# (and checksums) may differ between onnxruntime versions.
#
# Needs: python3 (3.11+, for tomllib) with pip, apt-get + dpkg-deb (Debian), gst-launch-1.0 with
# the good/libav plugins (avidemux, decodebin, pngenc), ~400 MB of disk. Network: PyPI and the
# Debian mirror only. Environment: PYTHON (default python3).
set -euo pipefail

PY_REQUIREMENTS=("onnxruntime==1.31.1" "onnx==1.20.1" "numpy==2.3.5" "pillow==12.0.0")
MODELS=(centernet nanodet)
# Real-scene stills of opencv-doc's examples/data used for calibration.
STILLS=(messi5.jpg basketball1.png basketball2.png licenseplate_motion.jpg aero1.jpg aero3.jpg
        building.jpg home.jpg fruits.jpg orange.jpg apple.jpg baboon.jpg butterfly.jpg
        squirrel_cls.jpg HappyFish.jpg pic1.png pic2.png pic3.png pic4.png pic5.png pic6.png
        stuff.jpg box_in_scene.png left.jpg right.jpg leuvenA.jpg graf1.png aloeL.jpg
        rubberwhale1.png ela_original.jpg smarties.png board.jpg)
# video  keep every Nth frame
VIDEOS=("Megamind 12" "tree 8")
TEST_IMAGES=(dog person kite horses giraffe)

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
DEPS="$ROOT/.deps/quantize"
SITE="$DEPS/site"
MEDIA="$ROOT/.deps/media"
PYTHON="${PYTHON:-python3}"

log() { printf '[quantize-models] %s\n' "$*" >&2; }
die() { printf '[quantize-models] error: %s\n' "$*" >&2; exit 1; }

case "${1:-}" in
    -h|--help) sed -n '2,41p' "${BASH_SOURCE[0]}"; exit 0 ;;
esac
[ "$#" -le 1 ] || die "usage: scripts/quantize-models.sh [OUT_DIR]"
OUT="${1:-$ROOT/models}"
mkdir -p "$OUT"
OUT="$(cd "$OUT" && pwd)"

command -v "$PYTHON" >/dev/null || die "$PYTHON not found (Debian: apt-get install python3 python3-pip)"
"$PYTHON" -m pip --version >/dev/null 2>&1 || die "$PYTHON has no pip (Debian: apt-get install python3-pip)"
"$PYTHON" -c 'import tomllib' 2>/dev/null || die "$PYTHON has no tomllib (needs Python 3.11+)"
command -v gst-launch-1.0 >/dev/null || die "gst-launch-1.0 not found (Debian: apt-get install gstreamer1.0-tools gstreamer1.0-plugins-good gstreamer1.0-libav)"
for f in "${TEST_IMAGES[@]}"; do
    [ -f "$MEDIA/$f.jpg" ] || die "$MEDIA/$f.jpg missing (the parity-test media; see scripts/setup)"
done
[ -f "$MEDIA/vtest.avi" ] || die "$MEDIA/vtest.avi missing (the parity-test media; see scripts/setup)"

START=$SECONDS
TMP="$(mktemp -d)"
trap 'rm -rf "$TMP"' EXIT

# 1. Python packages.
stamp="$("$PYTHON" -c 'import sys; print(sys.version.split()[0], sys.executable)') ${PY_REQUIREMENTS[*]}"
if [ -f "$DEPS/STAMP" ] && [ "$(cat "$DEPS/STAMP")" = "$stamp" ] && [ -d "$SITE/onnxruntime" ]; then
    log "Python packages present in .deps/quantize (${PY_REQUIREMENTS[*]})"
else
    log "installing ${PY_REQUIREMENTS[*]} into .deps/quantize (about 100 MB from PyPI)"
    rm -rf "$SITE" "$SITE.partial" "$DEPS/STAMP"
    mkdir -p "$DEPS"
    "$PYTHON" -m pip install --quiet --disable-pip-version-check --no-warn-script-location \
        --target "$SITE.partial" "${PY_REQUIREMENTS[@]}" \
        || die "pip install failed"
    mv "$SITE.partial" "$SITE"
    echo "$stamp" > "$DEPS/STAMP"
fi
py() { PYTHONPATH="$SITE" PYTHONNOUSERSITE=1 "$PYTHON" "$@"; }

# frames VIDEO DIR PREFIX EVERY: every EVERY-th decoded frame of VIDEO as DIR/PREFIX-NNNN.png.
frames() {
    local video="$1" dir="$2" prefix="$3" every="$4" all="$TMP/frames-$3" i=0 f
    rm -rf "$all"; mkdir -p "$all"
    gst-launch-1.0 -q filesrc location="$video" ! decodebin ! videoconvert ! video/x-raw,format=RGB \
        ! pngenc ! multifilesink location="$all/%05d.png" >/dev/null || die "decoding $video failed"
    for f in "$all"/*.png; do
        if [ $((i % every)) -eq 0 ]; then mv "$f" "$dir/$prefix-$(basename "$f")"; fi
        i=$((i + 1))
    done
    rm -rf "$all"
}

# 2. Calibration set (opencv-doc; never the test media).
CALIB="$DEPS/calib"
calib_stamp="opencv-doc ${STILLS[*]} ${VIDEOS[*]}"
if [ -f "$CALIB/STAMP" ] && [ "$(cat "$CALIB/STAMP")" = "$calib_stamp" ]; then
    log "calibration set present in .deps/quantize/calib ($(ls "$CALIB" | grep -c -v STAMP) images)"
else
    mkdir -p "$DEPS/apt"
    if ! ls "$DEPS"/apt/opencv-doc_*_all.deb >/dev/null 2>&1; then
        log "apt-get download opencv-doc (about 100 MB)"
        (cd "$DEPS/apt" && apt-get download opencv-doc >/dev/null 2>&1) \
            || die "apt-get download opencv-doc failed (try apt-get update)"
    fi
    deb="$(ls "$DEPS"/apt/opencv-doc_*_all.deb | head -n1)"
    rm -rf "$DEPS/opencv-doc" "$CALIB.partial"
    dpkg-deb -x "$deb" "$DEPS/opencv-doc"
    data="$DEPS/opencv-doc/usr/share/doc/opencv-doc/examples/data"
    mkdir -p "$CALIB.partial"
    for f in "${STILLS[@]}"; do
        [ -f "$data/$f" ] || die "$(basename "$deb") has no examples/data/$f"
        cp "$data/$f" "$CALIB.partial/$f"
    done
    for entry in "${VIDEOS[@]}"; do
        read -r name every <<<"$entry"
        frames "$data/$name.avi" "$CALIB.partial" "$name" "$every"
    done
    echo "$calib_stamp" > "$CALIB.partial/STAMP"
    rm -rf "$CALIB"; mv "$CALIB.partial" "$CALIB"
    log "calibration set: $(ls "$CALIB" | grep -c -v STAMP) images from $(basename "$deb")"
fi

# 3. Test set (the parity-test media; never used for calibration).
TEST="$DEPS/test"
vtest_sum="$(sha256sum "$MEDIA/vtest.avi" | cut -d' ' -f1)"
if [ -f "$TEST/STAMP" ] && [ "$(cat "$TEST/STAMP")" = "$vtest_sum" ]; then
    log "test set present in .deps/quantize/test"
else
    rm -rf "$TEST"; mkdir -p "$TEST/darknet" "$TEST/vtest"
    for f in "${TEST_IMAGES[@]}"; do cp "$MEDIA/$f.jpg" "$TEST/darknet/$f.jpg"; done
    # vtest.avi is 10 fps: one frame every 2 s.
    frames "$MEDIA/vtest.avi" "$TEST/vtest" vtest 20
    echo "$vtest_sum" > "$TEST/STAMP"
fi
log "test set: ${#TEST_IMAGES[@]} darknet images, $(ls "$TEST/vtest" | wc -l) vtest.avi frames"

# 4. + 5. Quantise and evaluate (single process; the speed runs use 1 intra-op thread).
mkdir -p "$TMP/out"
report="$TMP/report.txt"
: > "$report"
status=0
for name in "${MODELS[@]}"; do
    log "quantising $name"
    py "$ROOT/scripts/quantize_models.py" quantize "$ROOT/models/$name.toml" "$TMP/out/$name-int8.onnx" \
        --calib "$CALIB" 2>&1 | grep -v -i 'warning' >&2 || true
    [ -f "$TMP/out/$name-int8.onnx" ] || die "quantisation of $name failed"
    log "evaluating $name"
    py "$ROOT/scripts/quantize_models.py" evaluate "$ROOT/models/$name.toml" "$TMP/out/$name-int8.onnx" \
        --test "$TEST/darknet" --test "$TEST/vtest" --runs 20 --sizes 320 | tee -a "$report" >&2 \
        || { status=1; log "$name: int8 misses the accuracy bar (shipped anyway; see above)"; }
done

# 6. Install.
names=()
for name in "${MODELS[@]}"; do
    cp "$TMP/out/$name-int8.onnx" "$OUT/$name-int8.onnx"
    about="$(py "$ROOT/scripts/quantize_models.py" about "$name")"
    py "$ROOT/scripts/quantize_models.py" spec "$ROOT/models/$name.toml" "$OUT/$name-int8.toml" \
        --name "$name-int8" --file "$name-int8.onnx" --about "$about"
    names+=("$name-int8.onnx")
done
sums="$OUT/SHA256SUMS"
touch "$sums"
(cd "$OUT" && sha256sum "${names[@]}") > "$TMP/new-sums"
grep -v -F -f <(printf '  %s\n' "${names[@]}") "$sums" > "$TMP/old-sums" || true
cat "$TMP/old-sums" "$TMP/new-sums" > "$sums"

log "wrote ${names[*]} (+ .toml) and updated SHA256SUMS in $OUT in $((SECONDS - START)) s"
echo "== parity and speed (int8 vs fp32) =="
grep -E 'ACCURACY|SPEED|SIZE|MISSES' "$report" || true
exit "$status"
