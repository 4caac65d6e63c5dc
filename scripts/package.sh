#!/usr/bin/env bash
# Builds the Debian packages of roadeye with `cargo deb` (metadata in Cargo.toml) and checks them:
# contents, control fields, and the packaged binary's `check` on the packaged config, run from
# a scratch root the package is unpacked into.
#
#   scripts/package.sh                 amd64 and arm64 -> target/debian/roadeye_<version>-1_<arch>.deb
#   scripts/package.sh --arch amd64    one architecture (amd64 or arm64)
#   scripts/package.sh --fast          quicker, larger compression (for CI)
#   scripts/package.sh --no-build      package target/release/roadeye as it is (CI builds it first)
#
# Needs scripts/setup.sh (ONNX Runtime, media) and, for arm64, scripts/cross-build.sh (the binary;
# it also builds the arm64 sysroot). The package ships ONNX Runtime (from the official PyPI wheel of
# its architecture) in /usr/lib/roadeye, so a box needs no download at install time.
set -euo pipefail
# shellcheck source=scripts/arm64.sh
source "$(dirname "${BASH_SOURCE[0]}")/arm64.sh"
cd "$ARM_ROOT"

CARGO_DEB_VERSION=3.8.0
arches=(amd64 arm64)
fast=()
build=1
while [ $# -gt 0 ]; do
    case "$1" in
        --arch) arches=("$2"); shift ;;
        --fast) fast=(--fast) ;;
        --no-build) build=0 ;;
        -h|--help) sed -n '2,13p' "${BASH_SOURCE[0]}"; exit 0 ;;
        *) arm_die "unknown option '$1' (try --help)" ;;
    esac
    shift
done
log() { printf '[package] %s\n' "$*" >&2; }
die() { printf '[package] error: %s\n' "$*" >&2; exit 1; }

if ! cargo deb --version 2>/dev/null | grep -q "$CARGO_DEB_VERSION"; then
    log "installing cargo-deb $CARGO_DEB_VERSION (crates.io)"
    cargo install --locked --quiet cargo-deb --version "$CARGO_DEB_VERSION"
fi
command -v dpkg-deb >/dev/null || die "dpkg-deb not found: apt-get install dpkg"
version="$(sed -n 's/^version = "\(.*\)"/\1/p' Cargo.toml | head -n1)"

# Puts the ONNX Runtime library of the package's architecture and its licence where the assets
# expect them (a folder of their own: never beside a binary that would then load it).
STAGE=target/deb-stage
stage_onnxruntime() {
    local ort_dir="$1"
    local lib; lib="$(readlink -f "$ort_dir/lib/libonnxruntime.so" || true)"
    [ -f "$lib" ] && [ -f "$ort_dir/LICENSE" ] && [ -f "$ort_dir/ThirdPartyNotices.txt" ] \
        || die "$ort_dir has no ONNX Runtime library, licence and notices"
    rm -rf "$STAGE"; mkdir -p "$STAGE"
    cp "$lib" "$STAGE/libonnxruntime.so"
    cp "$ort_dir/LICENSE" "$STAGE/onnxruntime-LICENSE"
    cp "$ort_dir/ThirdPartyNotices.txt" "$STAGE/onnxruntime-ThirdPartyNotices.txt"
}

# Contents and control fields every package must have.
verify() {
    local deb="$1" arch="$2" contents info
    contents="$(dpkg-deb -c "$deb")"
    info="$(dpkg-deb -I "$deb")"
    local want=(
        ./usr/bin/roadeye ./usr/lib/roadeye/libonnxruntime.so ./etc/roadeye/roadeye.toml
        ./usr/share/roadeye/models/centernet.onnx ./usr/share/roadeye/models/centernet.toml
        ./usr/share/roadeye/models/nanodet.onnx ./usr/share/roadeye/models/coco80.txt
        ./usr/share/roadeye/models/centernet-int8.onnx ./usr/share/roadeye/models/nanodet-int8.toml
        ./usr/lib/systemd/system/roadeye.service ./usr/lib/sysusers.d/roadeye.conf
        ./usr/lib/tmpfiles.d/roadeye.conf ./usr/share/doc/roadeye/onnxruntime/LICENSE
        ./usr/share/doc/roadeye/schema/asyncapi.yaml
    )
    local f
    for f in "${want[@]}"; do
        grep -qE " ${f//./\\.}\$" <<< "$contents" || die "$deb lacks $f"
    done
    grep -qE "^ Architecture: $arch\$" <<< "$info" || die "$deb is not Architecture: $arch"
    for f in gstreamer1.0-plugins-good gstreamer1.0-libav libgstreamer1.0-0 systemd; do
        grep -E "^ Depends:" <<< "$info" | grep -q "$f" || die "$deb does not depend on $f"
    done
    grep -qx "/etc/roadeye/roadeye.toml" < <(dpkg-deb --ctrl-tarfile "$deb" | tar -xO ./conffiles) \
        || die "$deb does not mark /etc/roadeye/roadeye.toml as a conffile"
    # The declared libc6 must cover the newest glibc symbol version the binary and ONNX Runtime use.
    local declared needed tmp objdump=objdump
    [ "$arch" = arm64 ] && objdump=aarch64-linux-gnu-objdump
    declared="$(grep -oE 'libc6 \(>= [0-9.]+\)' <<< "$info" | grep -oE '[0-9.]+\)' | tr -d ')' || true)"
    tmp="$(mktemp -d)"
    dpkg-deb -x "$deb" "$tmp"
    needed="$("$objdump" -T "$tmp/usr/bin/roadeye" "$tmp/usr/lib/roadeye/libonnxruntime.so" \
        | grep -oE 'GLIBC_[0-9.]+' | sed 's/GLIBC_//' | sort -uV | tail -n1 || true)"
    rm -rf "$tmp"
    [ -n "$declared" ] && [ -n "$needed" ] || die "$deb: could not read the libc6 dependency or the glibc versions used"
    [ "$(printf '%s\n%s\n' "$needed" "$declared" | sort -V | tail -n1)" = "$declared" ] \
        || die "$deb: the binary needs glibc $needed but the package depends on libc6 (>= $declared)"
    log "$deb: $(du -h "$deb" | cut -f1), $(grep -c . <<< "$contents") entries, contents and control fields as expected (glibc $needed <= $declared)"
}

for arch in "${arches[@]}"; do
    case "$arch" in
        amd64)
            [ "$build" -eq 1 ] && cargo build --locked --release --bin roadeye
            [ -x target/release/roadeye ] || die "target/release/roadeye is missing: cargo build --release"
            stage_onnxruntime .deps/onnxruntime
            cargo deb --no-build "${fast[@]}" --output "target/debian/roadeye_${version}-1_amd64.deb" >/dev/null
            ;;
        arm64)
            bin="target/$ARM_TARGET/release/roadeye"
            [ -x "$bin" ] || die "$bin is missing: run scripts/cross-build.sh first"
            arm_onnxruntime
            stage_onnxruntime "$ARM_DIR/onnxruntime"
            command -v aarch64-linux-gnu-strip >/dev/null || die "aarch64-linux-gnu-strip not found: apt-get install binutils-aarch64-linux-gnu"
            env "STRIP_aarch64-linux-gnu=aarch64-linux-gnu-strip" "OBJCOPY_aarch64-linux-gnu=aarch64-linux-gnu-objcopy" \
                cargo deb --no-build "${fast[@]}" --target "$ARM_TARGET" \
                --output "target/debian/roadeye_${version}-1_arm64.deb" >/dev/null
            ;;
        *) die "unknown architecture '$arch' (amd64 or arm64)" ;;
    esac
    verify "target/debian/roadeye_${version}-1_${arch}.deb" "$arch"
done

# The amd64 package unpacked into a scratch root: its own binary, with its own ONNX Runtime and
# models (found beside the binary, as installed), checks its own config.
if [[ " ${arches[*]} " == *" amd64 "* ]] && [ "$(dpkg --print-architecture)" = amd64 ]; then
    root="$(mktemp -d)"
    trap 'rm -rf "$root"' EXIT
    dpkg-deb -x "target/debian/roadeye_${version}-1_amd64.deb" "$root"
    out="$(cd / && env -u ORT_DYLIB_PATH -u ROADEYE_MODELS_DIR "$root/usr/bin/roadeye" check "$root/etc/roadeye/roadeye.toml" 2>&1)" \
        || { printf '%s\n' "$out" >&2; die "the packaged binary's check of the packaged config failed"; }
    printf '%s\n' "$out" | sed 's/^/  /' >&2
    grep -q "ONNX Runtime ($root/usr/lib/roadeye/libonnxruntime.so)" <<< "$out" \
        || die "the packaged binary did not use the packaged ONNX Runtime"
    grep -q "centernet from $root/usr/share/roadeye/models" <<< "$out" \
        || die "the packaged binary did not use the packaged models"
    log "the packaged binary checks the packaged config with the packaged ONNX Runtime and models"
fi
