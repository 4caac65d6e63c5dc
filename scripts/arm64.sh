# Shared by scripts/cross-build.sh, scripts/arm-smoke.sh and scripts/package.sh (sourced, not run):
# everything needed to build and run roadeye for 64-bit ARM on an x86_64 Debian machine, without
# Docker and without installing anything of arm64 system-wide.
#
#   .deps/arm64/apt/       a private apt configuration: bookworm (+ updates, security, backports),
#                          architectures amd64 and arm64, its own lists and archives, an empty status
#   .deps/arm64/sysroot/   the arm64 packages roadeye builds against and runs with, unpacked (dpkg -x)
#   .deps/arm64/qemu/      qemu-aarch64 10 (static) from bookworm-backports, to run the binary here
#   .deps/arm64/onnxruntime/lib/libonnxruntime.so   from the PyPI manylinux aarch64 wheel (+ its licence)
#
# Environment: ROADEYE_DEBIAN_MIRROR (default http://deb.debian.org/debian) and
# ROADEYE_DEBIAN_SECURITY (default http://deb.debian.org/debian-security).

ARM_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
ARM_DIR="$ARM_ROOT/.deps/arm64"
ARM_APT="$ARM_DIR/apt"
ARM_SYSROOT="$ARM_DIR/sysroot"
ARM_QEMU="$ARM_DIR/qemu/qemu-aarch64"
ARM_ORT="$ARM_DIR/onnxruntime/lib/libonnxruntime.so"
ARM_TARGET="aarch64-unknown-linux-gnu"
ARM_ORT_VERSION="${ROADEYE_ORT_VERSION:-1.31.1}"

# What roadeye links (GStreamer core, base, app/video, the RTSP server) and what it needs at run time
# to open cameras and files: the base, good and libav plugin sets (H.264/H.265 over RTSP, MJPEG,
# MPEG-4, AVI/MP4/Matroska), and the C/C++ runtime that libonnxruntime needs.
ARM_PACKAGES=(
    libc6-dev libstdc++6 libgcc-s1
    libgstreamer1.0-dev libgstreamer-plugins-base1.0-dev libgstrtspserver-1.0-dev
    gstreamer1.0-plugins-base gstreamer1.0-plugins-good gstreamer1.0-libav
)
# Bumped when the package list or the unpacking changes, so an old sysroot is rebuilt.
ARM_SYSROOT_STAMP="3:${ARM_PACKAGES[*]}"

arm_log() { printf '[arm64] %s\n' "$*" >&2; }
arm_die() { printf '[arm64] error: %s\n' "$*" >&2; exit 1; }

# apt-get with the private configuration: never touches the machine's own apt state.
arm_apt_get() { APT_CONFIG="$ARM_APT/apt.conf" apt-get -q "$@"; }

arm_apt_setup() {
    local mirror="${ROADEYE_DEBIAN_MIRROR:-http://deb.debian.org/debian}"
    local security="${ROADEYE_DEBIAN_SECURITY:-http://deb.debian.org/debian-security}"
    local keyring=/usr/share/keyrings/debian-archive-keyring.gpg
    [ -f "$keyring" ] || arm_die "$keyring is missing: apt-get install debian-archive-keyring"
    mkdir -p "$ARM_APT"/{lists/partial,archives/partial,parts,prefs}
    : > "$ARM_APT/status"
    cat > "$ARM_APT/sources.list" <<EOF
deb [signed-by=$keyring] $mirror bookworm main
deb [signed-by=$keyring] $mirror bookworm-updates main
deb [signed-by=$keyring] $mirror bookworm-backports main
deb [signed-by=$keyring] $security bookworm-security main
EOF
    cat > "$ARM_APT/apt.conf" <<EOF
Dir::State "$ARM_APT";
Dir::State::lists "$ARM_APT/lists";
Dir::State::status "$ARM_APT/status";
Dir::Cache "$ARM_APT";
Dir::Cache::archives "$ARM_APT/archives";
Dir::Etc::SourceList "$ARM_APT/sources.list";
Dir::Etc::SourceParts "$ARM_APT/parts";
Dir::Etc::Preferences "$ARM_APT/prefs/none";
Dir::Etc::PreferencesParts "$ARM_APT/prefs";
APT::Architecture "amd64";
APT::Architectures { "amd64"; "arm64"; };
APT::Install-Recommends "false";
Debug::NoLocking "true";
APT::Sandbox::User "root";
EOF
    local age=999999
    [ -f "$ARM_APT/updated" ] && age=$(( $(date +%s) - $(stat -c %Y "$ARM_APT/updated") ))
    if [ "$age" -gt 86400 ]; then
        arm_log "reading the package lists of bookworm (+ backports) for amd64 and arm64"
        arm_apt_get update >/dev/null || arm_die "apt-get update failed on $mirror: check the network or set ROADEYE_DEBIAN_MIRROR"
        touch "$ARM_APT/updated"
    fi
}

# The arm64 sysroot: the packages above with every dependency, unpacked, turned into a merged-/usr
# tree whose symbolic links stay inside it (so both the cross linker and qemu can follow them).
arm_sysroot() {
    if [ -f "$ARM_SYSROOT/.stamp" ] && [ "$(cat "$ARM_SYSROOT/.stamp")" = "$ARM_SYSROOT_STAMP" ]; then
        arm_log "sysroot present"; return
    fi
    arm_apt_setup
    local pkgs=()
    for p in "${ARM_PACKAGES[@]}"; do pkgs+=("$p:arm64"); done
    arm_log "downloading the arm64 packages and their dependencies"
    # Only this download is unpacked: an older version of a package must not overwrite a newer one.
    rm -f "$ARM_APT"/archives/*.deb
    # The status is empty, so apt resolves the whole closure; --download-only installs nothing.
    arm_apt_get install --download-only -y "${pkgs[@]}" >/dev/null \
        || arm_die "apt could not resolve the arm64 packages ${ARM_PACKAGES[*]}"
    rm -rf "$ARM_SYSROOT"; mkdir -p "$ARM_SYSROOT"
    local n=0
    for deb in "$ARM_APT"/archives/*_arm64.deb "$ARM_APT"/archives/*_all.deb; do
        [ -e "$deb" ] || continue
        dpkg-deb -x "$deb" "$ARM_SYSROOT"; n=$((n + 1))
    done
    arm_log "unpacked $n packages"
    # Merged /usr, as on an installed bookworm system.
    local d
    for d in lib bin sbin; do
        if [ -d "$ARM_SYSROOT/$d" ] && [ ! -L "$ARM_SYSROOT/$d" ]; then
            mkdir -p "$ARM_SYSROOT/usr/$d"
            cp -a "$ARM_SYSROOT/$d/." "$ARM_SYSROOT/usr/$d/"
            rm -rf "${ARM_SYSROOT:?}/$d"
        fi
        ln -sfn "usr/$d" "$ARM_SYSROOT/$d"
    done
    # Absolute links (libfoo.so -> /lib/aarch64-linux-gnu/libfoo.so.1) would point into this machine.
    local link target
    while IFS= read -r -d '' link; do
        target="$(readlink "$link")"
        ln -sfn "$(realpath -m --relative-to="$(dirname "$link")" "$ARM_SYSROOT$target")" "$link"
    done < <(find "$ARM_SYSROOT" -type l -lname '/*' -print0)
    # No maintainer scripts ran: set the alternatives that libavcodec's dependencies need.
    local lib="$ARM_SYSROOT/usr/lib/aarch64-linux-gnu"
    for alt in blas/libblas.so.3 lapack/liblapack.so.3; do
        [ -e "$lib/$alt" ] && ln -sfn "$alt" "$lib/$(basename "$alt")"
    done
    echo "$ARM_SYSROOT_STAMP" > "$ARM_SYSROOT/.stamp"
    arm_log "sysroot ready ($(du -sh "$ARM_SYSROOT" | cut -f1))"
}

# qemu-aarch64 from bookworm-backports (bookworm's own 7.2 crashes loading onnxruntime): only the
# static binary is unpacked.
arm_qemu() {
    if [ -x "$ARM_QEMU" ]; then arm_log "qemu-aarch64 present"; return; fi
    arm_apt_setup
    local tmp; tmp="$(mktemp -d)"
    (cd "$tmp" && arm_apt_get download qemu-user/bookworm-backports >/dev/null) \
        || arm_die "could not download qemu-user from bookworm-backports"
    mkdir -p "$(dirname "$ARM_QEMU")"
    dpkg-deb --fsys-tarfile "$tmp"/qemu-user_*.deb | tar -x -C "$tmp" ./usr/bin/qemu-aarch64
    mv "$tmp/usr/bin/qemu-aarch64" "$ARM_QEMU"
    rm -rf "$tmp"
    arm_log "$("$ARM_QEMU" --version | head -n1)"
}

# ONNX Runtime for aarch64 from its official PyPI wheel (downloaded, never installed).
arm_onnxruntime() {
    python3 "$ARM_ROOT/scripts/fetch_onnxruntime.py" "$ARM_ORT_VERSION" "$ARM_DIR/onnxruntime" manylinux_2_28_aarch64 \
        || arm_die "onnxruntime $ARM_ORT_VERSION (aarch64) could not be set up in $ARM_DIR/onnxruntime"
}

# The environment that runs aarch64 binaries here (also `cargo test --target aarch64-…`).
arm_run_env() {
    export QEMU_LD_PREFIX="$ARM_SYSROOT" QEMU_CPU=cortex-a72
    export GST_PLUGIN_SYSTEM_PATH="$ARM_SYSROOT/usr/lib/aarch64-linux-gnu/gstreamer-1.0"
    export GST_PLUGIN_PATH="" GST_REGISTRY="$ARM_DIR/registry.aarch64.bin" GST_REGISTRY_FORK=no
    export ORT_DYLIB_PATH="$ARM_ORT"
    export CARGO_TARGET_AARCH64_UNKNOWN_LINUX_GNU_RUNNER="$ARM_QEMU"
}
