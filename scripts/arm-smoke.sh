#!/usr/bin/env bash
# Smoke test of the aarch64 build: runs the cross-built binary under qemu-aarch64 (user-mode
# emulation, nothing installed system-wide) with the aarch64 ONNX Runtime and arm64 GStreamer.
#
#   1. `roadeye detect --json` on the sample images gives the same detections as the x86_64 build
#      (each paired by class and overlap, boxes and scores within rounding of the kernels; only a
#      detection at the score threshold may be found on one side only), with centernet and with
#      centernet-int8;
#   2. `roadeye run` on vtest.avi (decode -> detect -> track) produces tracks.
#
# Emulation is ~60x slower than native: this proves the build works, it measures nothing.
#
#   scripts/arm-smoke.sh [--seconds N]   (default 60 s of pipeline run)
#   scripts/arm-smoke.sh --no-build      compare with target/release/roadeye as it is (CI builds it first)
#
# Needs: scripts/setup.sh (x86_64 ONNX Runtime, media), scripts/cross-build.sh (the aarch64 binary).
set -euo pipefail
# shellcheck source=scripts/arm64.sh
source "$(dirname "${BASH_SOURCE[0]}")/arm64.sh"
cd "$ARM_ROOT"

seconds=60
build=1
while [ $# -gt 0 ]; do
    case "$1" in
        --seconds) seconds="$2"; shift ;;
        --no-build) build=0 ;;
        -h|--help) sed -n '2,15p' "${BASH_SOURCE[0]}"; exit 0 ;;
        *) arm_die "unknown option '$1' (try --help)" ;;
    esac
    shift
done

arm_bin="target/$ARM_TARGET/release/roadeye"
[ -x "$arm_bin" ] || arm_die "$arm_bin is missing: run scripts/cross-build.sh first"
media=.deps/media
[ -f "$media/vtest.avi" ] || arm_die "$media is missing: run scripts/setup.sh first"
started=$(date +%s)
arm_sysroot
arm_qemu
arm_onnxruntime
# The x86_64 reference: the same sources in the same (release) profile.
[ "$build" -eq 1 ] && cargo build --locked --release --bin roadeye
x86_bin=target/release/roadeye
[ -x "$x86_bin" ] || arm_die "$x86_bin is missing: cargo build --release"

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
# ELF e_machine 183 is EM_AARCH64.
[ "$(od -An -tu2 -j18 -N2 "$arm_bin" | tr -d ' ')" = 183 ] || arm_die "$arm_bin is not an aarch64 executable"

run_arm() { (arm_run_env; "$ARM_QEMU" "$arm_bin" "$@"); }

arm_log "roadeye --version under $("$ARM_QEMU" --version | head -n1)"
run_arm --version

# 1. The same detections on both architectures, for the fp32 model and its int8 quantisation.
images=("$media"/dog.jpg "$media"/person.jpg "$media"/kite.jpg "$media"/horses.jpg "$media"/giraffe.jpg)
threshold=0.3
# compare_model MODEL MIN_IOU SCORE_TOL BORDER: detections are paired by class and IoU >= 0.5; each
# pair must overlap by MIN_IOU and its scores agree within SCORE_TOL, and a detection found on one
# side only is
# allowed only when its score is below threshold + BORDER (it sits at the threshold, where a rounding
# difference decides whether it is reported).
compare_model() {
    local model="$1" min_iou="$2" score_tol="$3" border="$4"
    local t0 t1 t2
    t0=$(date +%s%N)
    run_arm detect --json --score "$threshold" --model "$model" "${images[@]}" > "$work/arm-$model.jsonl"
    t1=$(date +%s%N)
    "$x86_bin" detect --json --score "$threshold" --model "$model" "${images[@]}" > "$work/x86-$model.jsonl"
    t2=$(date +%s%N)
    arm_log "detect ($model) on ${#images[@]} images: $(( (t1 - t0) / 1000000 )) ms emulated, $(( (t2 - t1) / 1000000 )) ms native"
    python3 - "$work/x86-$model.jsonl" "$work/arm-$model.jsonl" "$model" "$min_iou" "$score_tol" \
        "$threshold" "$border" <<'PY'
import json, sys
x86 = [json.loads(l) for l in open(sys.argv[1])]
arm = [json.loads(l) for l in open(sys.argv[2])]
model = sys.argv[3]
min_iou, score_tol, threshold, border = map(float, sys.argv[4:8])
assert len(x86) == len(arm) == 5, f"expected 5 results each, got {len(x86)} (x86_64) and {len(arm)} (aarch64)"

def iou(a, b):
    w = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    h = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = w * h
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union if union > 0 else 0.0

worst_iou, worst_score = 1.0, 0.0
paired = 0
borderline = []
for a, b in zip(x86, arm):
    name = a["image"]
    assert (a["width"], a["height"]) == (b["width"], b["height"]), f"{name}: image size differs"
    left = list(b["detections"])
    for da in sorted(a["detections"], key=lambda d: -d["score"]):
        best = max((d for d in left if d["class"] == da["class"]),
                   key=lambda d: iou(d["box"], da["box"]), default=None)
        if best is not None and iou(best["box"], da["box"]) >= 0.5:
            left.remove(best)
            worst_iou = min(worst_iou, iou(best["box"], da["box"]))
            worst_score = max(worst_score, abs(da["score"] - best["score"]))
            paired += 1
        else:
            borderline.append(("x86_64", name, da))
    borderline += [("aarch64", name, d) for d in left]
for side, name, d in borderline:
    assert d["score"] < threshold + border, (
        f"{model} {name}: {d['class']} at {d['score']:.3f} found on {side} only")
assert paired > 0, f"{model}: no detections at all on the sample images"
# Float kernels differ (AVX vs NEON), and so does the int8 arithmetic (x86's u8×s8 products against
# Arm's s8 dot products): allow rounding, not a different result.
assert worst_iou >= min_iou, f"{model}: paired boxes overlap by only {worst_iou:.3f} (IoU)"
assert worst_score <= score_tol, f"{model}: scores differ by up to {worst_score:.5f}"
extra = "".join(f"; {d['class']} at {d['score']:.3f} on {side} only ({name.rsplit('/', 1)[-1]})"
                for side, name, d in borderline)
print(f"[arm64] detect ({model}): the same {paired} detections on 5 images "
      f"(least box overlap {worst_iou:.4f} IoU, largest score difference {worst_score:.5f}){extra}",
      file=sys.stderr)
PY
}
compare_model centernet 0.99 0.002 0
compare_model centernet-int8 0.7 0.05 0.05

# 2. A short pipeline run: decode (avidemux + avdec_msmpeg4) -> detect -> track, no broker.
cat > "$work/smoke.toml" <<EOF
[site]
id = "arm-smoke"
device = "qemu"

[ops]
listen = "off"

[[cameras]]
id = "plaza"
url = "file://$ARM_ROOT/$media/vtest.avi"
realtime = false

[cameras.detect]
classes = ["person"]
EOF
run_arm check "$work/smoke.toml"
arm_log "roadeye run for $seconds s on vtest.avi (emulated)"
run_arm run --config "$work/smoke.toml" --for "$seconds" --summary-every 15 > "$work/run.out" 2> "$work/run.err" \
    || { cat "$work/run.err" >&2; arm_die "roadeye run failed under emulation"; }
summary="$(grep -E 'plaza: .* since start' "$work/run.err" | tail -n1 || true)"
[ -n "$summary" ] || { cat "$work/run.err" >&2; arm_die "no track summary in the log"; }
tracks="$(sed -E 's/.* ([0-9]+) since start.*/\1/' <<< "$summary")"
arm_log "last summary: $summary"
[ "$tracks" -gt 0 ] || { cat "$work/run.err" >&2; arm_die "the aarch64 pipeline produced no tracks"; }
arm_log "pipeline: $tracks track(s) on aarch64; smoke test passed in $(( $(date +%s) - started )) s"
