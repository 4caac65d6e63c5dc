#!/usr/bin/env bash
# Cross-builds roadeye for 64-bit ARM boxes (aarch64-unknown-linux-gnu) on an x86_64 Debian
# machine, without Docker: Debian's cross compiler, and a sysroot of the arm64 GStreamer packages
# unpacked from `apt-get download` (see scripts/arm64.sh). With Docker, `cross` and cross.toml do
# the same.
#
#   scripts/cross-build.sh            release build -> target/aarch64-unknown-linux-gnu/release/roadeye
#   scripts/cross-build.sh --no-apt   skip installing the cross compiler (known to be installed)
#   scripts/cross-build.sh -- ARGS    extra cargo arguments (e.g. -- --tests for the test binaries)
set -euo pipefail
# shellcheck source=scripts/arm64.sh
source "$(dirname "${BASH_SOURCE[0]}")/arm64.sh"
cd "$ARM_ROOT"

apt=1
extra=()
while [ $# -gt 0 ]; do
    case "$1" in
        --no-apt) apt=0 ;;
        --) shift; extra=("$@"); break ;;
        -h|--help) sed -n '2,10p' "${BASH_SOURCE[0]}"; exit 0 ;;
        *) arm_die "unknown option '$1' (try --help)" ;;
    esac
    shift
done

as_root() {
    if [ "$(id -u)" -eq 0 ]; then "$@"; elif command -v sudo >/dev/null; then sudo "$@"; else
        arm_die "'$*' needs root: run this script as root or install sudo"
    fi
}

if [ "$apt" -eq 1 ]; then
    missing=()
    for p in gcc-aarch64-linux-gnu libc6-dev-arm64-cross pkg-config dpkg-dev; do
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
    done
    if [ "${#missing[@]}" -gt 0 ]; then
        arm_log "installing ${missing[*]}"
        as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}" \
            || { as_root apt-get update -q && as_root env DEBIAN_FRONTEND=noninteractive \
                apt-get install -y -q --no-install-recommends "${missing[@]}"; }
    fi
fi
command -v aarch64-linux-gnu-gcc >/dev/null || arm_die "aarch64-linux-gnu-gcc not found: apt-get install gcc-aarch64-linux-gnu"
rustup target list --installed 2>/dev/null | grep -qx "$ARM_TARGET" || rustup target add "$ARM_TARGET"

arm_sysroot

lib="$ARM_SYSROOT/usr/lib/aarch64-linux-gnu"
export PKG_CONFIG_ALLOW_CROSS=1
export PKG_CONFIG_SYSROOT_DIR="$ARM_SYSROOT"
export PKG_CONFIG_LIBDIR="$lib/pkgconfig:$ARM_SYSROOT/usr/share/pkgconfig"
export CC_aarch64_unknown_linux_gnu=aarch64-linux-gnu-gcc
export AR_aarch64_unknown_linux_gnu=aarch64-linux-gnu-ar
export CARGO_TARGET_AARCH64_UNKNOWN_LINUX_GNU_LINKER=aarch64-linux-gnu-gcc
# Link against the sysroot: its libc and the GStreamer libraries' own dependencies (glib, orc, …).
link="-C link-arg=--sysroot=$ARM_SYSROOT -C link-arg=-Wl,-rpath-link,$lib"
if [ -n "${RUSTFLAGS:-}" ]; then
    # RUSTFLAGS overrides the per-target flags: ours are added to it.
    export RUSTFLAGS="$RUSTFLAGS $link"
else
    export CARGO_TARGET_AARCH64_UNKNOWN_LINUX_GNU_RUSTFLAGS="$link"
fi

arm_log "cargo build --release --target $ARM_TARGET ${extra[*]}"
cargo build --locked --release --target "$ARM_TARGET" "${extra[@]}"
bin="target/$ARM_TARGET/release/roadeye"
[ -x "$bin" ] || arm_die "$bin was not produced"
arm_log "built $bin ($(du -h "$bin" | cut -f1))"
