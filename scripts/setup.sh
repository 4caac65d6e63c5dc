#!/usr/bin/env bash
# Installs everything roadeye needs to build, test and run on a Debian (bookworm) machine.
# Idempotent: a second run checks what is there and does nothing more.
#
#   scripts/setup.sh            apt packages + ONNX Runtime + test media
#   scripts/setup.sh --no-apt   skip apt (the packages are known to be installed)
#
# What lands where (all project-local, git-ignored):
#   .deps/onnxruntime/lib/libonnxruntime.so   ONNX Runtime shared library, from the PyPI wheel
#   .deps/onnxruntime/{LICENSE,ThirdPartyNotices.txt}   its licence, shipped with it in the packages
#   .deps/media/                              sample images (Debian darknet) and vtest.avi (Debian opencv-doc)
set -euo pipefail

ORT_VERSION="${ROADEYE_ORT_VERSION:-1.31.1}"
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
DEPS="$ROOT/.deps"
APT_PACKAGES=(
    ca-certificates gcc libc6-dev pkg-config python3 python3-pip dpkg-dev
    # GStreamer: build headers, the RTSP server library, and the plugins that decode camera streams
    libgstreamer1.0-dev libgstreamer-plugins-base1.0-dev libgstrtspserver-1.0-dev
    gstreamer1.0-plugins-base gstreamer1.0-plugins-good gstreamer1.0-plugins-bad
    gstreamer1.0-plugins-ugly gstreamer1.0-libav gstreamer1.0-tools
    # MQTT: the broker the tests publish to, and mosquitto_sub / mosquitto_pub for watching events
    mosquitto mosquitto-clients openssl
)

log() { printf '[setup] %s\n' "$*" >&2; }
die() { printf '[setup] error: %s\n' "$*" >&2; exit 1; }

as_root() {
    if [ "$(id -u)" -eq 0 ]; then "$@"; elif command -v sudo >/dev/null; then sudo "$@"; else
        die "'$*' needs root: run this script as root or install sudo"
    fi
}

# apt has been seen to fail mid-install on a vanished archive and succeed on a second try.
apt_retry() {
    if ! as_root env DEBIAN_FRONTEND=noninteractive "$@"; then
        log "apt failed; refreshing the package lists and trying once more"
        as_root apt-get update -q
        as_root env DEBIAN_FRONTEND=noninteractive "$@"
    fi
}

install_apt() {
    local missing=()
    for p in "${APT_PACKAGES[@]}"; do
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
    done
    if [ "${#missing[@]}" -eq 0 ]; then log "apt packages present"; return; fi
    log "installing apt packages: ${missing[*]}"
    apt_retry apt-get update -q
    apt_retry apt-get install -y -q --no-install-recommends "${missing[@]}"
}

check_rust() {
    command -v cargo >/dev/null || die "cargo not found: install Rust 1.95 or newer with rustup (https://rustup.rs)"
    local have
    have="$(rustc --version | awk '{print $2}')"
    if [ "$(printf '%s\n1.95.0\n' "$have" | sort -V | head -n1)" != "1.95.0" ]; then
        die "rustc $have is too old: roadeye needs 1.95 or newer (rustup update stable)"
    fi
}

# ONNX Runtime: the shared library from the official PyPI wheel (pip download fetches, never installs).
install_onnxruntime() {
    python3 "$ROOT/scripts/fetch_onnxruntime.py" "$ORT_VERSION" "$DEPS/onnxruntime" \
        || die "onnxruntime $ORT_VERSION could not be set up in $DEPS/onnxruntime"
}

# Test and demo media, from Debian packages (downloaded, unpacked locally, never installed).
install_media() {
    local media="$DEPS/media" cache="$DEPS/cache"
    local images=(dog.jpg person.jpg kite.jpg horses.jpg giraffe.jpg)
    mkdir -p "$media" "$cache"
    local need_darknet=0
    for f in "${images[@]}"; do [ -f "$media/$f" ] || need_darknet=1; done
    if [ "$need_darknet" -eq 1 ]; then
        log "fetching sample images (Debian package darknet)"
        fetch_deb darknet "$cache"
        for f in "${images[@]}"; do cp "$cache/darknet/usr/share/darknet/data/$f" "$media/$f"; done
    fi
    if [ ! -f "$media/vtest.avi" ]; then
        log "fetching vtest.avi (Debian package opencv-doc)"
        fetch_deb opencv-doc "$cache"
        cp "$cache/opencv-doc/usr/share/doc/opencv-doc/examples/data/vtest.avi" "$media/vtest.avi"
    fi
    rm -rf "$cache"
    log "media present in $media"
}

fetch_deb() {
    local pkg="$1" cache="$2"
    mkdir -p "$cache/$pkg"
    (cd "$cache" && { apt-get download -q "$pkg" || { as_root apt-get update -q && apt-get download -q "$pkg"; }; }) \
        || die "apt-get download $pkg failed: check the Debian apt sources"
    dpkg-deb -x "$cache/${pkg}"_*.deb "$cache/$pkg"
}

main() {
    local apt=1
    for a in "$@"; do
        case "$a" in
            --no-apt) apt=0 ;;
            -h|--help) sed -n '2,12p' "${BASH_SOURCE[0]}"; exit 0 ;;
            *) die "unknown option '$a' (try --help)" ;;
        esac
    done
    [ "$apt" -eq 1 ] && install_apt
    check_rust
    install_onnxruntime
    install_media
}

main "$@"
