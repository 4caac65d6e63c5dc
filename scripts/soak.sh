#!/usr/bin/env bash
# Long run of the demo: the sample video looping like a live camera, the embedded broker, event
# snapshots, /metrics scraped and the config reloaded (a counting line moved back and forth) while
# it runs. Samples the process's resident memory and open file descriptors every few seconds and
# reports how they grow.
#
#   scripts/soak.sh [MINUTES] [--every SECONDS] [--reload-every SECONDS] [--warmup SECONDS]
#
# ROADEYE_SOAK_MQTT_PORT and ROADEYE_SOAK_OPS_PORT move the embedded broker and the endpoints off
# their defaults (1883, 9710), e.g. to soak beside the test suite.
# Defaults: 20 minutes, a sample every 5 s, a reload every 60 s, the first 120 s left out of the
# growth figures (model, buffer pools and the outbox settle). The samples are kept in
# target/soak/samples.csv. Goal: flat within 2 % between the first and the last quarter.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
minutes=20 every=5 reload_every=60 warmup=120
while [ $# -gt 0 ]; do
    case "$1" in
        --every) every="$2"; shift 2 ;;
        --reload-every) reload_every="$2"; shift 2 ;;
        --warmup) warmup="$2"; shift 2 ;;
        [0-9]*) minutes="$1"; shift ;;
        *) echo "usage: $0 [MINUTES] [--every S] [--reload-every S] [--warmup S]" >&2; exit 2 ;;
    esac
done
bash scripts/setup.sh --no-apt >/dev/null
cargo build --release --locked --quiet
out=target/soak
rm -rf "$out" && mkdir -p "$out"
# The demo config, moved next to the samples (its relative paths one folder deeper) and with its
# own outbox and snapshot folder.
sed -e 's#\([":]\)\.\./#\1../../#g' \
    -e 's#target/demo/outbox.redb#target/soak/outbox.redb#' \
    -e 's#target/demo/snapshots#target/soak/snapshots#' \
    -e "s#^embedded = true#embedded = true\nport = ${ROADEYE_SOAK_MQTT_PORT:-1883}#" configs/demo.toml > "$out/soak.toml"
listen=127.0.0.1:${ROADEYE_SOAK_OPS_PORT:-9710}
printf '\n[ops]\nlisten = "%s"\n' "$listen" >> "$out/soak.toml"
./target/release/roadeye run --config "$out/soak.toml" --summary-every 60 >"$out/events.jsonl" 2>"$out/roadeye.log" &
pid=$!
trap 'kill $pid 2>/dev/null || true' EXIT
echo "t_s,rss_kb,fds,frames_analysed,events" > "$out/samples.csv"
start=$(date +%s)
end=$((start + minutes * 60))
next_reload=$((start + reload_every))
moved=0
echo "[soak] roadeye pid $pid for $minutes min; samples every ${every} s in $out/samples.csv" >&2
while [ "$(date +%s)" -lt "$end" ]; do
    sleep "$every"
    kill -0 "$pid" 2>/dev/null || { echo "[soak] roadeye exited early; see $out/roadeye.log" >&2; exit 1; }
    now=$(date +%s)
    rss=$(awk '/^VmRSS:/ {print $2}' "/proc/$pid/status")
    fds=$(ls "/proc/$pid/fd" | wc -l)
    metrics=$(exec 3<>"/dev/tcp/${listen%:*}/${listen#*:}" && printf 'GET /metrics HTTP/1.0\r\n\r\n' >&3 && cat <&3) || metrics=""
    frames=$(printf '%s\n' "$metrics" | awk '/^roadeye_camera_frames_analysed_total/ {s += $2} END {print s + 0}')
    events=$(printf '%s\n' "$metrics" | awk '/^roadeye_events_total/ {s += $2} END {print s + 0}')
    echo "$((now - start)),$rss,$fds,$frames,$events" >> "$out/samples.csv"
    if [ "$now" -ge "$next_reload" ]; then
        # Move the counting line a little, or back: a real reload (new rules, same tracker).
        if [ "$moved" -eq 0 ]; then from=0.35 to=0.36 moved=1; else from=0.36 to=0.35 moved=0; fi
        sed -i "s#\[\[$from, 0.62\], \[$from, 0.28\]\]#[[$to, 0.62], [$to, 0.28]]#" "$out/soak.toml"
        kill -HUP "$pid"
        next_reload=$((now + reload_every))
    fi
done
kill -TERM "$pid"
wait "$pid" || true
trap - EXIT
reloads=$(grep -c "applied (" "$out/roadeye.log" || true)
snapshots=$(find "$out/snapshots" -name '*.jpg' 2>/dev/null | wc -l)
# Growth after the warm-up: mean of the last quarter against the first quarter, and the slope of
# a least-squares line, per hour, as a share of the mean.
awk -F, -v warmup="$warmup" -v reloads="$reloads" -v snaps="$snapshots" '
NR > 1 && $1 >= warmup { n++; t[n] = $1; r[n] = $2; f[n] = $3; fr = $4; ev = $5 }
function report(name, v,   q, a, b, i, st, sv, stt, stv, slope, mean) {
    q = int(n / 4); if (q < 1) q = 1
    for (i = 1; i <= q; i++) a += v[i]
    for (i = n - q + 1; i <= n; i++) b += v[i]
    a /= q; b /= q
    for (i = 1; i <= n; i++) { st += t[i]; sv += v[i]; stt += t[i] * t[i]; stv += t[i] * v[i] }
    mean = sv / n
    slope = (n * stv - st * sv) / (n * stt - st * st)
    printf "[soak] %-4s first quarter %.0f, last quarter %.0f: %+.2f %%; trend %+.2f %% per hour (min %.0f, max %.0f)\n", \
        name, a, b, 100 * (b - a) / a, 100 * slope * 3600 / mean, minv(v), maxv(v)
}
function minv(v,   i, m) { m = v[1]; for (i = 2; i <= n; i++) if (v[i] < m) m = v[i]; return m }
function maxv(v,   i, m) { m = v[1]; for (i = 2; i <= n; i++) if (v[i] > m) m = v[i]; return m }
END {
    if (n < 8) { print "[soak] too few samples after the warm-up: run longer"; exit 1 }
    printf "[soak] %d samples over %.1f min after a %d s warm-up; %d frames analysed, %d events, %d reloads, %d snapshots kept\n", \
        n, (t[n] - t[1]) / 60, warmup, fr, ev, reloads, snaps
    report("RSS", r)
    report("fds", f)
}' "$out/samples.csv"
