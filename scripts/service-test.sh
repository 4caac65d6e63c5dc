#!/usr/bin/env bash
# Installs the amd64 package into a Debian bookworm system booted with systemd in a container
# (debootstrap + systemd-nspawn, no Docker) and checks the service as a technician would use it:
#
#   - apt installs it with its dependencies; the user, the enabled unit and the config's
#     permissions are as the package says;
#   - the service starts at boot, runs `check` first, and its events reach a Mosquitto broker;
#     /healthz answers 200;
#   - the sandbox holds: the root file system is read-only for it, the outbox, snapshot and cache
#     folders are writable;
#   - a killed service is restarted; a broken config is refused at start with the field named;
#   - an upgrade keeps the config and restarts the service; a purge removes the state.
#
#   scripts/service-test.sh [DEB]    default: target/debian/roadeye_<version>-1_amd64.deb
#
# Needs root, network access to the Debian mirror, and the packages debootstrap and
# systemd-container (installed if missing). The bookworm tree is kept in .deps/box/ for next time.
# Takes about 4 minutes the first time, 2 after. Not part of CI (its budget); run it after changing the
# unit or the maintainer files.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
log() { printf '[service-test] %s\n' "$*" >&2; }
die() { printf '[service-test] FAILED: %s\n' "$*" >&2; exit 1; }

version="$(sed -n 's/^version = "\(.*\)"/\1/p' Cargo.toml | head -n1)"
deb="${1:-target/debian/roadeye_${version}-1_amd64.deb}"
[ -f "$deb" ] || die "$deb is missing: run scripts/package.sh --arch amd64"
[ "$(id -u)" -eq 0 ] || die "needs root (debootstrap, systemd-nspawn)"
[ -f .deps/media/vtest.avi ] || die ".deps/media/vtest.avi is missing: run scripts/setup.sh"
for tool in debootstrap systemd-nspawn; do
    command -v "$tool" >/dev/null || DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends \
        debootstrap systemd-container >/dev/null
done

base=.deps/box/bookworm
if [ ! -x "$base/usr/bin/mosquitto" ]; then
    log "debootstrap bookworm (+ systemd, mosquitto) into $base"
    rm -rf "$base"; mkdir -p "$(dirname "$base")"
    debootstrap --variant=minbase --include=systemd,systemd-sysv,dbus,ca-certificates,mosquitto,mosquitto-clients,curl \
        bookworm "$base" "${ROADEYE_DEBIAN_MIRROR:-http://deb.debian.org/debian}" >/dev/null \
        || die "debootstrap failed"
fi
box="$(mktemp -d /var/tmp/roadeye-box.XXXXXX)"
leader=""
cleanup() {
    if [ -n "$leader" ] && kill "$leader" 2>/dev/null; then
        # The guest stops its services first (roadeye flushes for up to 5 s).
        for _ in $(seq 40); do kill -0 "$leader" 2>/dev/null || break; sleep 1; done
        kill -KILL "$leader" 2>/dev/null || true
    fi
    rm -rf "$box" || true
}
trap cleanup EXIT
cp -a "$base/." "$box/"
cp "$deb" "$box/srv/roadeye.deb"
cp .deps/media/vtest.avi "$box/srv/vtest.avi"

# (nspawn without a host systemd warns about its propagation folder on exit: harmless.)
nspawn() {
    systemd-nspawn -q -D "$box" --register=no --keep-unit --resolv-conf=copy-host --pipe "$@" \
        2> >(grep -v "propagate" >&2)
}
log "apt install $(basename "$deb") in the container"
nspawn sh -c 'apt-get update -q >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends /srv/roadeye.deb >/dev/null 2>&1' \
    || die "apt could not install the package"
nspawn id roadeye | grep -q "(video)" || die "the roadeye user is missing or not in the video group"
nspawn systemctl is-enabled roadeye | grep -qx enabled || die "the unit is not enabled"

# A test config: the sample video as a looping camera, the container's Mosquitto, snapshots on.
sed -e 's|^embedded = true|host = "127.0.0.1"|' -e '/^outbox.path/d' \
    -e 's|^dir = .*|dir = "/var/lib/roadeye/snapshots"|' -e 's|^url = .*|url = "file:///srv/vtest.avi"|' \
    configs/demo.toml > "$box/etc/roadeye/roadeye.toml"

log "booting the container"
# Its own network namespace: its broker and /healthz never meet the machine's own.
setsid systemd-nspawn -q -D "$box" --register=no --keep-unit --private-network --boot --console=passive \
    > /dev/null 2>&1 &
for _ in $(seq 60); do
    leader="$(pgrep -f "systemd-nspawn .* -D $box" | head -n1 || true)"
    if [ -n "$leader" ] && init="$(pgrep -P "$leader" | head -n1 || true)" && [ -n "$init" ]; then
        state="$(nsenter -t "$init" -a systemctl is-system-running --wait 2>/dev/null || true)"
        case "$state" in running|degraded) break ;; esac
    fi
    sleep 1
done
case "${state:-}" in running|degraded) ;; *) die "the container did not boot (state: ${state:-none})" ;; esac
in_box() { nsenter -t "$init" -a "$@"; }
for _ in $(seq 30); do in_box systemctl is-active -q roadeye && break; sleep 1; done
in_box systemctl is-active -q roadeye || { in_box journalctl -u roadeye --no-pager | tail -20 >&2; die "roadeye did not start at boot"; }
in_box journalctl -u roadeye --no-pager | grep -q "roadeye.toml: OK" || die "ExecStartPre's check did not run"
[ "$(in_box stat -c '%U:%G %a' /etc/roadeye/roadeye.toml)" = "root:roadeye 640" ] \
    || die "the config is not root:roadeye 640: $(in_box stat -c '%U:%G %a' /etc/roadeye/roadeye.toml)"
log "running at boot; the config is root:roadeye 640"

events="$(in_box mosquitto_sub -h 127.0.0.1 -t 'roadeye/v1/demo/plaza/events/#' -C 3 -W 30 || true)"
[ "$(grep -c '"kind"' <<< "$events")" -eq 3 ] || die "no events on the broker within 30 s"
in_box curl -sf 127.0.0.1:9710/healthz | grep -q '"status":"ok"' || die "/healthz is not ok"
log "events reach Mosquitto; /healthz is ok"

pid="$(in_box systemctl show -p MainPID --value roadeye)"
mounts="$(in_box cat "/proc/$pid/mountinfo")"
# mountinfo: field 5 is the mount point, field 6 its options.
mode_of() { awk -v d="$1" '$5 == d { split($6, o, ","); m = o[1] } END { print m }' <<< "$mounts"; }
[ "$(mode_of /)" = ro ] || die "the root file system is writable for the service"
for d in /var/lib/roadeye/outbox /var/lib/roadeye/snapshots /var/cache/roadeye; do
    [ "$(mode_of "$d")" = rw ] || die "$d is not writable for the service"
done
[ "$(awk '$6 ~ /^rw/ && $5 !~ /^\/(dev|proc|sys|run|tmp|var\/tmp)/ { print $5 }' <<< "$mounts" | sort | tr '\n' ' ')" \
    = "/var/cache/roadeye /var/lib/roadeye/outbox /var/lib/roadeye/snapshots " ] \
    || die "the service can write elsewhere: $(awk '$6 ~ /^rw/ { print $5 }' <<< "$mounts" | tr '\n' ' ')"
in_box ls /var/lib/roadeye/outbox | grep -q outbox.redb || die "no outbox file"
# The first line crossing of vtest.avi is about 20 s into it.
for _ in $(seq 60); do in_box find /var/lib/roadeye/snapshots -name '*.jpg' | grep -q . && break; sleep 1; done
in_box find /var/lib/roadeye/snapshots -name '*.jpg' | grep -q . || die "no snapshot written within a minute"
log "sandbox: / read-only, outbox, snapshots and cache writable; outbox and snapshots written"

in_box kill -KILL "$pid"
sleep 2
for _ in $(seq 30); do in_box systemctl is-active -q roadeye && break; sleep 1; done
in_box systemctl is-active -q roadeye || die "a killed service was not restarted"
[ "$(in_box systemctl show -p NRestarts --value roadeye)" -ge 1 ] || die "no restart counted"
log "a killed service is restarted"

cp "$box/etc/roadeye/roadeye.toml" "$box/srv/good.toml"
sed -i 's|^points = \[\[0.35, 0.62\], \[0.35, 0.28\]\]|points = [[0.35, 0.62]]|' "$box/etc/roadeye/roadeye.toml"
in_box systemctl restart roadeye 2>/dev/null && die "a broken config started"
in_box journalctl -u roadeye --no-pager | grep -q "cameras\[0\].lines\[0\].points: has 1 point" \
    || die "the journal does not name the broken field"
cp "$box/srv/good.toml" "$box/etc/roadeye/roadeye.toml"
for _ in $(seq 20); do in_box systemctl is-active -q roadeye && break; sleep 1; done
in_box systemctl is-active -q roadeye || die "the service did not come back after the config was mended"
log "a broken config is refused at start with its field named; mended, the service comes back by itself"

since="$(in_box systemctl show -p ActiveEnterTimestampMonotonic --value roadeye)"
in_box sh -c 'DEBIAN_FRONTEND=noninteractive apt-get install -y -q --reinstall /srv/roadeye.deb >/dev/null 2>&1' || die "the upgrade failed"
in_box cmp -s /etc/roadeye/roadeye.toml /srv/good.toml || die "the upgrade changed the config"
sleep 2
[ "$(in_box systemctl show -p ActiveEnterTimestampMonotonic --value roadeye)" != "$since" ] || die "the upgrade did not restart the service"
log "an upgrade keeps the config and restarts the service"

in_box sh -c 'DEBIAN_FRONTEND=noninteractive apt-get purge -y -q roadeye >/dev/null' || die "purge failed"
in_box test ! -e /var/lib/roadeye || die "purge left /var/lib/roadeye"
in_box test ! -e /etc/roadeye/roadeye.toml || die "purge left the config"
log "purge removes the config and the state"
log "passed"
