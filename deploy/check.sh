#!/usr/bin/env bash
# `make deploy-check`: the board's install path under a real systemd (docs/deploy.md).
#
# Boots a fresh Debian 12 with systemd as its init in a container (systemd-nspawn on an
# overlay of a cached debootstrap root file system), binds the working tree in, runs
# `firmware_config/install.sh LINE.toml` as docs/deploy.md says, for two lines whose
# cameras are rendered recordings played in a loop (deploy/lines.py) and whose broker
# is the container's mosquitto, then proves through systemctl and journalctl what the
# unit promises: readiness, counting, the sandbox, restarts after kill -9 and after a
# hang (watchdog), an idle line that never trips the watchdog, a clean stop, a bad key
# refused, an upgrade that keeps everything, the journald and timesyncd settings.
# A failure names its step and prints the unit's journal.
#
# Environment: DEPLOY_CACHE (.cache/deploy; CI: /var/cache/oee-deploy-check) holds the
# root file system, pip's download cache and the last run (kept for a post-mortem).
# Needs root (debootstrap, mounts, nspawn); re-runs itself with sudo.
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
REPO=$(cd "$HERE/.." && pwd)
PI_REPO=$REPO
PI_CACHE=${DEPLOY_CACHE:-$REPO/.cache/deploy}
PI_LOG_NAME=deploy-check
# shellcheck source=pi/lib.sh
source "$REPO/pi/lib.sh"

if [ "$(id -u)" != 0 ]; then
    command -v sudo >/dev/null || pi_die "needs root (debootstrap, mounts, systemd-nspawn)"
    exec sudo --preserve-env=DEPLOY_CACHE "$0" "$@"
fi
HOST_PY=$REPO/.venv/bin/python
[ -x "$HOST_PY" ] || pi_die "no $HOST_PY: run \`make venv\` first (it renders the footage)"

SUITE=bookworm
MIRROR=${PI_MIRROR:-http://deb.debian.org/debian}
# What a Raspberry Pi OS Lite image has (systemd, udev, timesyncd, Python) plus what
# the check itself uses: mosquitto for the line's broker, sqlite3 to read the store.
PACKAGES=systemd,systemd-sysv,dbus,udev,systemd-timesyncd,mosquitto,mosquitto-clients,python3,python3-venv,python3-dev,rsync,v4l-utils,sqlite3,ca-certificates,procps
RECIPE="suite=$SUITE variant=minbase include=$PACKAGES recipe=2"
BASE=$PI_CACHE/rootfs-$SUITE
RUN=$PI_CACHE/run
ROOT=$RUN/root
LINES=$RUN/lines
LINE=check-1                         # a running belt with parts
IDLE=idle-1                          # a halted, empty belt
UNIT=oee-agent@$LINE
IDLE_UNIT=oee-agent@$IDLE
STATE=/var/lib/oee
NSPAWN=
INIT=
HANG_JOB=
STEP="start"
declare -a TIMES=()

# ---- helpers -----------------------------------------------------------------------------

# Run a command inside the container (all its namespaces), with a clean environment.
ct() {
    nsenter -t "$INIT" -a /usr/bin/env -i PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
        HOME=/root LANG=C.UTF-8 SYSTEMD_COLORS=0 SYSTEMD_PAGER= "$@"
}
prop() { ct systemctl show -p "$2" --value "$1"; } # prop UNIT PROPERTY
db() { ct runuser -u oee -- sqlite3 "$STATE/$1/line.db" "$2"; } # db LINE SQL
parts() { db "$1" "SELECT count(*) FROM events WHERE type = 'part'"; }
# A mark in the journal: the next second (what was logged before is not after it).
# (--after-cursor missed entries here once journald had switched to volatile storage.)
mark() { sleep 1; ct date '+%F %T'; }
# has TEXT HAYSTACK: grep -q on a pipe would fail the pipe (SIGPIPE) under pipefail.
has() { grep -qF -- "$1" <<<"$2"; }
journal_since() { ct journalctl --no-pager -o cat --since="$1" -u "$2"; } # MARK UNIT

step() {
    [ "$STEP" = start ] || TIMES+=("$STEP: $((SECONDS - STEP_T0)) s")
    STEP=$1
    STEP_T0=$SECONDS
    pi_log "== $STEP"
}
ok() { pi_log "   ok: $*"; }
fail() {
    printf 'deploy-check: FAILED in step "%s": %s\n' "$STEP" "$*" >&2
    exit 1
}
# poll SECONDS COMMAND...: until COMMAND succeeds (0) or SECONDS passed (1).
poll() {
    local limit=$1 t0=$SECONDS
    shift
    until "$@"; do
        ((SECONDS - t0 < limit)) || return 1
        sleep 0.5
    done
}
# wait_until SECONDS WHAT COMMAND...: poll, or fail naming WHAT.
wait_until() {
    local limit=$1 what=$2
    shift 2
    poll "$limit" "$@" || fail "$what: not within $limit s"
}
is_active() { [ "$(prop "$1" ActiveState)/$(prop "$1" SubState)" = active/running ]; }
restarted() { # UNIT OLD_PID: active (running) with another main process
    local pid
    pid=$(prop "$1" MainPID)
    is_active "$1" && [ "$pid" != 0 ] && [ "$pid" != "$2" ]
}
free_port() { "$HOST_PY" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }

on_exit() {
    local rc=$?
    set +e
    if [ $rc != 0 ] && [ -n "$INIT" ] && [ -e "/proc/$INIT" ]; then
        printf 'deploy-check: FAILED in step "%s"; the units'"'"' journal:\n' "$STEP" >&2
        ct journalctl --no-pager -n 150 -u "$UNIT" -u "$IDLE_UNIT" >&2
        ct systemctl status --no-pager "$UNIT" "$IDLE_UNIT" >&2
    fi
    if [ -n "$HANG_JOB" ] && kill -0 "$HANG_JOB" 2>/dev/null; then
        kill -CONT "$HANG_JOB"
        pi_kill_tree "$HANG_JOB" # deploy/hang.py ends on SIGTERM, releasing the agent
    fi
    if [ -n "$NSPAWN" ] && kill -0 "$NSPAWN" 2>/dev/null; then
        kill -TERM "$NSPAWN" # nspawn asks the container's systemd to power off
        for _ in $(seq 60); do kill -0 "$NSPAWN" 2>/dev/null || break; sleep 0.5; done
        kill -0 "$NSPAWN" 2>/dev/null && pi_kill_tree "$NSPAWN"
        wait "$NSPAWN" 2>/dev/null
    fi
    pi_unmount_all_under "$RUN"
    [ $rc = 0 ] || pi_log "the run is kept in $RUN (nspawn.log, upper/: what the run changed)"
    exit $rc
}

# ---- the root file system (cached) ---------------------------------------------------------

ensure_tools() {
    command -v debootstrap >/dev/null && command -v systemd-nspawn >/dev/null && return 0
    pi_log "installing debootstrap and systemd-container from Debian's packages"
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
        --no-install-recommends debootstrap systemd-container >/dev/null ||
        fail "apt-get install debootstrap systemd-container failed"
}

build_base() {
    local stamp=$BASE/.deploy-check-rootfs tmp=$BASE.tmp t0=$SECONDS
    if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$RECIPE" ]; then
        ok "root file system cached: $BASE"
        return 0
    fi
    pi_remove_tree "$tmp"
    # two tries: a mirror hiccup should not fail a CI run
    debootstrap --variant=minbase --include="$PACKAGES" "$SUITE" "$tmp" "$MIRROR" \
        >"$PI_CACHE/debootstrap.log" 2>&1 || {
        pi_log "debootstrap failed (see $PI_CACHE/debootstrap.log); trying once more"
        pi_remove_tree "$tmp"
        debootstrap --variant=minbase --include="$PACKAGES" "$SUITE" "$tmp" "$MIRROR" \
            >"$PI_CACHE/debootstrap.log" 2>&1
    } || fail "debootstrap failed twice, see $PI_CACHE/debootstrap.log"
    rm -rf "$tmp/var/cache/apt/archives/"*.deb
    # minbase has no /etc/hosts; a board's image has one (`localhost` must resolve)
    printf '127.0.0.1\tlocalhost\n::1\t\tlocalhost ip6-localhost ip6-loopback\n' >"$tmp/etc/hosts"
    echo "$RECIPE" >"$tmp/.deploy-check-rootfs"
    pi_remove_tree "$BASE"
    mv "$tmp" "$BASE"
    ok "root file system built in $((SECONDS - t0)) s"
}

# ---- main ------------------------------------------------------------------------------------

pi_lock
trap on_exit EXIT
trap 'exit 130' INT TERM
T0=$SECONDS

step "root file system (debootstrap $SUITE, cached in $PI_CACHE)"
ensure_tools
build_base

step "footage and lines (rendered on the host)"
PORT=$(free_port)
pi_remove_tree "$RUN"
mkdir -p "$RUN/upper" "$RUN/work" "$ROOT" "$PI_CACHE/pip"
(cd "$REPO" && "$HOST_PY" deploy/lines.py "$LINES" --footage-dir /srv/oee-check --port "$PORT") \
    >"$RUN/lines.log" 2>&1 || fail "rendering the footage failed, see $RUN/lines.log"
ok "$(cd "$LINES" && echo *.avi *.toml); broker on 127.0.0.1:$PORT"

step "boot a fresh Debian $SUITE with systemd (systemd-nspawn -b on an overlay)"
mount -t overlay overlay -o "lowerdir=$BASE,upperdir=$RUN/upper,workdir=$RUN/work" "$ROOT"
# The container shares the host's network: its mosquitto listens on a free loopback
# port instead of 1883, which may be taken on the host.
printf 'listener %s 127.0.0.1\nallow_anonymous true\n' "$PORT" \
    >"$ROOT/etc/mosquitto/conf.d/deploy-check.conf"
# The host's CA bundle: pip may go through a TLS-inspecting proxy (as in pi/check.sh).
cp /etc/ssl/certs/ca-certificates.crt "$ROOT/etc/ssl/certs/host-ca-bundle.crt"
systemd-nspawn --quiet --register=no --keep-unit --console=read-only -D "$ROOT" -b \
    --bind-ro="$REPO:/root/oee" --bind-ro="$LINES:/srv/oee-check" \
    --bind="$PI_CACHE/pip:/root/.cache/pip" </dev/null >"$RUN/nspawn.log" 2>&1 &
NSPAWN=$!
find_init() { # the container's systemd: a descendant of nspawn that is PID 1 inside
    local pid
    for pid in $(pgrep -P "$NSPAWN") $(pgrep -P "$(pgrep -P "$NSPAWN" | head -1)" 2>/dev/null); do
        if awk '/^NSpid:/ { exit !($NF == 1 && NF > 2) }' "/proc/$pid/status" 2>/dev/null; then
            INIT=$pid
            return 0
        fi
    done
    kill -0 "$NSPAWN" 2>/dev/null || fail "systemd-nspawn exited: $(tail -5 "$RUN/nspawn.log")"
    return 1
}
wait_until 30 "the container's systemd" find_init
state=$(ct timeout 120 systemctl is-system-running --wait || true)
case $state in
    running) ok "systemd $(ct systemctl --version | head -1 | cut -d' ' -f2) is $state" ;;
    *) ct systemctl --failed --no-pager >&2; fail "systemctl is-system-running: $state" ;;
esac
wait_until 20 "mosquitto on port $PORT" ct mosquitto_sub -h 127.0.0.1 -p "$PORT" -t '$SYS/broker/version' -C 1 -W 2

step "install.sh LINE.toml as docs/deploy.md says (both lines)"
# (PIP_CERT: test plumbing for a TLS-inspecting proxy; pip's download cache is kept.)
ct PIP_CERT=/etc/ssl/certs/host-ca-bundle.crt /root/oee/firmware_config/install.sh \
    /srv/oee-check/$LINE.toml /srv/oee-check/$IDLE.toml >"$RUN/install.log" 2>&1 ||
    { tail -30 "$RUN/install.log" >&2; fail "install.sh exited non-zero (log: $RUN/install.log)"; }
for unit in "$UNIT" "$IDLE_UNIT"; do
    is_active "$unit" || fail "$unit is not active (running) after install.sh"
done
cmp -s "$REPO/firmware_config/systemd/oee-agent@.service" "$ROOT/etc/systemd/system/oee-agent@.service" ||
    fail "the installed unit is not the repository's"
[ "$(prop "$UNIT" FragmentPath)" = /etc/systemd/system/oee-agent@.service ] || fail "unit not from /etc"
[ -z "$(ct systemctl show -p DropInPaths --value "$UNIT")" ] || fail "the unit has drop-ins"
ok "both units active (running), the shipped unit unchanged and without drop-ins"
INSTALLED=$(date -u +%FT%T)
IDLE_SINCE=$SECONDS

step "teach the line's model (sudo -u oee oee-agent teach, as docs/deploy.md)"
ct runuser -u oee -- /opt/oee/.venv/bin/oee-agent --log-level WARNING teach \
    /srv/oee-check/$LINE.avi --config /etc/oee/$LINE.toml >"$RUN/teach.log" 2>&1 ||
    { tail -20 "$RUN/teach.log" >&2; fail "teach failed (log: $RUN/teach.log)"; }
[ -n "$(ct find "$STATE/$LINE/inspection" -type f)" ] || fail "teach wrote no model"
ok "model in $STATE/$LINE/inspection"


step "stop: within TimeoutStopSec, exit 0"
ms() { date +%s%3N; }
t0=$(ms)
ct systemctl stop "$UNIT"
took_ms=$(($(ms) - t0))
limit=$("$HOST_PY" "$HERE/proof.py" seconds "$(prop "$UNIT" TimeoutStopUSec)")
[ "$(prop "$UNIT" Result)" = success ] || fail "Result=$(prop "$UNIT" Result) after stop"
[ "$(prop "$UNIT" ExecMainCode)/$(prop "$UNIT" ExecMainStatus)" = 1/0 ] ||
    fail "the agent did not exit 0 (code $(prop "$UNIT" ExecMainCode), status $(prop "$UNIT" ExecMainStatus))"
has "agent for line $LINE stopped" "$(ct journalctl -u "$UNIT" -o cat -n 40)" ||
    fail "the agent did not log its orderly stop"
((took_ms < ${limit%.*} * 1000)) || fail "stop took $took_ms ms, TimeoutStopSec is $limit s"
ok "stopped in $took_ms ms (TimeoutStopSec=${limit}s), Result=success, exited with status 0"

step "start: active (running) only after READY=1, status text says it counts"
ct systemctl start --no-block "$UNIT"
# Sample from inside the container (no nsenter per sample) until active or 120 s.
ct bash -c 'for _ in $(seq 1200); do
    s=$(systemctl show -p ActiveState -p SubState -p MainPID -p StatusText "$1" | paste -sd "|")
    echo "$s"; case $s in *ActiveState=active*|*ActiveState=failed*) break ;; esac
    sleep 0.1; done' _ "$UNIT" >"$RUN/ready.samples"
problem=$("$HOST_PY" "$HERE/proof.py" ready "$LINE" <"$RUN/ready.samples" 2>&1) ||
    fail "$problem (samples: $RUN/ready.samples)"
waited=$(grep ActiveState=activating "$RUN/ready.samples" | grep -c SubState=start || true)
ok "activating (start) with the agent running for ~$((waited / 10)) s, then active (running): $(prop "$UNIT" StatusText)"
journal=$(ct journalctl -u "$UNIT" -o cat -n 60)
grep -q "inspection is on" <<<"$journal" || fail "the taught model was not loaded"
ok "journal: $(grep "inspection is on" <<<"$journal" | tail -1 | cut -d' ' -f3-)"

step "counting: parts reach the store under $STATE and the broker"
TOPIC_ROOT=oee/deploy-check/container/$LINE
ct mosquitto_sub -h 127.0.0.1 -p "$PORT" -t "$TOPIC_ROOT/part" -C 3 -W 90 >"$RUN/parts.mqtt" ||
    fail "fewer than 3 part messages on $TOPIC_ROOT/part within 90 s"
wait_until 30 "parts in the store" test "$(parts "$LINE")" -gt 0
[ "$(ct mosquitto_sub -h 127.0.0.1 -p "$PORT" -t "$TOPIC_ROOT/status" -C 1 -W 5)" != "" ] || fail "no retained status"
ok "$(parts "$LINE") parts in $STATE/$LINE/line.db; part messages on $TOPIC_ROOT/part, e.g. $(head -c 120 "$RUN/parts.mqtt")"

step "the sandbox is real (in the agent's own namespaces)"
pid=$(prop "$UNIT" MainPID)
status=$(ct cat "/proc/$pid/status")
grep -Eq '^NoNewPrivs:\s+1' <<<"$status" || fail "NoNewPrivs is not set"
grep -Eq '^Seccomp:\s+2' <<<"$status" || fail "no seccomp filter (SystemCallArchitectures, ...)"
grep -Eq '^CapEff:\s+0+$' <<<"$status" || fail "the agent has capabilities: $(grep CapEff <<<"$status")"
[ "$(ct stat -c %U "/proc/$pid")" = oee ] || fail "the agent does not run as oee"
# As root inside the agent's mount namespace: what ProtectSystem=strict leaves writable.
for dir in /opt/oee /etc/oee /usr /var/log /srv /; do
    if ct nsenter -t "$pid" -m touch "$dir/.deploy-check" 2>/dev/null; then
        fail "$dir is writable in the agent's namespace"
    fi
done
ct nsenter -t "$pid" -m sh -c "touch $STATE/.deploy-check && rm $STATE/.deploy-check" ||
    fail "$STATE is not writable in the agent's namespace"
ct nsenter -t "$pid" -m test -e /root/oee/Makefile && fail "ProtectHome: /root is visible"
# MemoryMax= as the kernel enforces it, where this container's cgroups allow systemd
# to set it (cgroup v2, or v1's memory controller); reported, not required.
cg=$(prop "$UNIT" ControlGroup)
limit=
for f in "/sys/fs/cgroup$cg/memory.max" "/sys/fs/cgroup/unified$cg/memory.max" \
    "/sys/fs/cgroup/memory$cg/memory.limit_in_bytes"; do
    limit=$(ct cat "$f" 2>/dev/null) && break
done
case $limit in
    629145600) ok "MemoryMax=600M enforced by the kernel ($f)" ;;
    '' | max | 9223372036854771712) ok "MemoryMax= not enforced in this container's cgroups (limit: ${limit:-none})" ;;
    *) fail "the agent's memory limit is $limit, not MemoryMax=600M" ;;
esac
ok "uid oee, no capabilities, NoNewPrivs, seccomp; only $STATE writable (/ /opt /etc /usr /var/log /srv read-only, /root hidden, /tmp and /var/tmp private)"

step "kill -9: systemd restarts the agent, the store is intact, the outbox drains"
ct systemctl stop mosquitto # messages pile up in the outbox meanwhile
sleep 4
before=$(parts "$LINE")
queued=$(db "$LINE" "SELECT coalesce(max(seq), 0) FROM outbox")
depth=$(db "$LINE" "SELECT count(*) FROM outbox")
[ "$depth" -gt 0 ] || fail "nothing waited in the outbox while the broker was down"
pid=$(prop "$UNIT" MainPID)
restarts=$(prop "$UNIT" NRestarts)
ct kill -9 "$pid"
wait_until 60 "a new agent after kill -9" restarted "$UNIT" "$pid"
[ "$(prop "$UNIT" NRestarts)" -gt "$restarts" ] || fail "NRestarts did not grow"
[ "$(db "$LINE" "PRAGMA integrity_check")" = ok ] || fail "integrity_check after kill -9"
[ "$(parts "$LINE")" -ge "$before" ] || fail "parts lost: $before before, $(parts "$LINE") after"
ct systemctl start mosquitto
drained() { [ "$(db "$LINE" "SELECT count(*) FROM outbox WHERE seq <= $queued")" = 0 ]; }
wait_until 60 "the outbox to drain what was queued at the kill" drained
ok "restarted (NRestarts $(prop "$UNIT" NRestarts)), integrity ok, $before parts kept, the $depth queued messages delivered"

step "watchdog: a pipeline that stops progressing is killed and restarted"
# The agent's threads but its main one are stopped (deploy/hang.py, ptrace): the
# supervisor must notice the stalled pipeline and stop pinging; systemd must kill and
# restart the agent. (A frozen camera never stalls the pipeline: its reads time out and
# the capture watchdog books no_data, docs/deploy.md section 8.)
hang_agent() { # 0 when the agent noticed its stall and systemd restarted it
    local pid restarts c hang t0
    pid=$(prop "$UNIT" MainPID)
    restarts=$(prop "$UNIT" NRestarts)
    c=$(mark)
    t0=$SECONDS
    ct python3 /root/oee/deploy/hang.py "$pid" </dev/null >"$RUN/hang.log" 2>&1 &
    HANG_JOB=$!
    poll 10 grep -q stopped "$RUN/hang.log" ||
        fail "hang.py: $(cat "$RUN/hang.log")"
    hang=$(sed -n 's/^hang.py \([0-9]*\):.*/\1/p' "$RUN/hang.log")
    stalled() { has "pipeline made no progress" "$(journal_since "$c" "$UNIT")"; }
    if ! poll 45 stalled; then
        # the main thread hung too (a stopped thread held the GIL after all): let go
        ct kill "$hang" 2>/dev/null
        wait "$HANG_JOB" || true
        HANG_JOB=
        pi_log "   the main thread did not go on; once more"
        wait_until 120 "the agent after the attempt" is_active "$UNIT"
        return 1
    fi
    fired() { has "Watchdog timeout" "$(journal_since "$c" "$UNIT")"; }
    wait_until 60 "systemd's watchdog to fire" fired
    # Threads held by a tracer hold up the process's exit: release them now that
    # systemd has sent its signal (a thread hung for real needs no release: SIGKILL).
    ct kill "$hang"
    wait "$HANG_JOB" || true
    HANG_JOB=
    wait_until 90 "a restart after the watchdog" restarted "$UNIT" "$pid"
    [ "$(prop "$UNIT" NRestarts)" -gt "$restarts" ] || fail "NRestarts did not grow"
    ok "$(grep -m1 stopped "$RUN/hang.log" | cut -d: -f2-)"
    ok "$(journal_since "$c" "$UNIT" | grep -m1 "no progress" | cut -d' ' -f3-)"
    ok "watchdog timeout (WatchdogSec=$(prop "$UNIT" WatchdogUSec)), restarted $((SECONDS - t0)) s after the hang"
}
hang_agent || hang_agent || fail "the main thread hung with the pipeline twice"

step "a bad key in /etc/oee/$LINE.toml: ExecStartPre refuses, one line in the journal"
cp "$ROOT/etc/oee/$LINE.toml" "$RUN/good.toml"
printf 'frame_rate = 30\n' >>"$ROOT/etc/oee/$LINE.toml" # lands in the last table, [mqtt]
pid=$(prop "$UNIT" MainPID)
c=$(mark)
ct systemctl restart --no-block "$UNIT"
refused() { has "ontrol process exited, code=exited, status=2" "$(journal_since "$c" "$UNIT")"; }
wait_until 60 "ExecStartPre to refuse" refused
# Restart=always tries again every RestartSec: one line per attempt, all the same.
errors=$(journal_since "$c" "$UNIT" | grep "frame_rate" | sort -u || true)
[ "$(wc -l <<<"$errors")" = 1 ] && [ -n "$errors" ] || fail "not one error line for the bad key: $errors"
has "agent for line $LINE started" "$(journal_since "$c" "$UNIT")" && fail "the agent started anyway"
is_active "$UNIT" && fail "the unit is active with a bad key"
ok "refused: \"$errors\"; state $(prop "$UNIT" ActiveState) ($(prop "$UNIT" SubState))"
cp "$RUN/good.toml" "$ROOT/etc/oee/$LINE.toml"
wait_until 30 "the unit back with the good configuration (Restart=always)" is_active "$UNIT"
ok "back with the good configuration"

step "install.sh again (an upgrade) keeps store, model, secrets and configuration"
printf 'OEE_MQTT_USERNAME=line\nOEE_MQTT_PASSWORD=s3cret\n' >"$ROOT/etc/oee/$LINE.env"
printf '# edited on the board\n' >>"$ROOT/etc/oee/$LINE.toml"
ct systemctl restart "$UNIT" # the secrets in effect before the upgrade
snapshot() {
    ct sh -c "cd /etc/oee && sha256sum $LINE.toml $LINE.env $IDLE.toml && cd $STATE/$LINE && find inspection -type f -exec sha256sum {} + | sort"
    db "$LINE" "SELECT min(seq) || ' ' || (SELECT id FROM events ORDER BY seq LIMIT 1) FROM events"
}
before_files=$(snapshot)
before=$(parts "$LINE")
pid=$(prop "$UNIT" MainPID)
idle_pid=$(prop "$IDLE_UNIT" MainPID)
ct PIP_CERT=/etc/ssl/certs/host-ca-bundle.crt /root/oee/firmware_config/install.sh \
    >"$RUN/upgrade.log" 2>&1 || { tail -30 "$RUN/upgrade.log" >&2; fail "install.sh (upgrade) failed"; }
wait_until 60 "the service back after the upgrade" restarted "$UNIT" "$pid"
[ "$(snapshot)" = "$before_files" ] || fail "the upgrade changed: $(diff <(echo "$before_files") <(snapshot))"
[ "$(parts "$LINE")" -ge "$before" ] || fail "parts lost in the upgrade"
[ "$(db "$LINE" "PRAGMA integrity_check")" = ok ] || fail "integrity_check after the upgrade"
ct mosquitto_sub -h 127.0.0.1 -p "$PORT" -t "$TOPIC_ROOT/part" -C 1 -W 60 >/dev/null || fail "no parts after the upgrade"
ok "configuration, secrets, model and store unchanged ($before+ parts); both services restarted on the new code and counting"
[ "$(prop "$IDLE_UNIT" MainPID)" != "$idle_pid" ] || fail "the idle line was not restarted on the new code"

step "the idle line never tripped the watchdog"
((SECONDS - IDLE_SINCE > 60)) || sleep $((60 - (SECONDS - IDLE_SINCE)))
[ "$(prop "$IDLE_UNIT" NRestarts)" = 0 ] || fail "the idle line restarted $(prop "$IDLE_UNIT" NRestarts) times"
has "Watchdog timeout" "$(ct journalctl -u "$IDLE_UNIT" -o cat)" && fail "the idle line's watchdog fired"
[ "$(parts "$IDLE")" = 0 ] || fail "the idle line counted $(parts "$IDLE") parts"
ok "$IDLE: no restart, no watchdog timeout, 0 parts in $((SECONDS - IDLE_SINCE)) s (WatchdogSec=$(prop "$IDLE_UNIT" WatchdogUSec))"

step "journald and timesyncd settings in effect; the udev rule"
runtime=$(ct journalctl -u systemd-journald -o cat | grep "Runtime Journal" | tail -1 || true)
has "max 32.0M" "$runtime" ||
    fail "journald does not use the 32M runtime cap: $(ct journalctl -u systemd-journald -o cat | grep -i journal | tail -2)"
[ -z "$(ct find /var/log/journal -newermt "$INSTALLED" -type f 2>/dev/null)" ] ||
    fail "journald wrote to /var/log/journal after the install"
ok "journald: $runtime; nothing written to /var/log/journal since the install"
# systemd-timesyncd does not run in a container (ConditionVirtualization=!container,
# ConditionCapability=CAP_SYS_TIME): a drop-in of the check lifts the conditions; it
# still cannot set the clock (no CAP_SYS_TIME), it only reads its settings.
mkdir -p "$ROOT/etc/systemd/system/systemd-timesyncd.service.d"
printf '[Unit]\nConditionVirtualization=\n' >"$ROOT/etc/systemd/system/systemd-timesyncd.service.d/deploy-check.conf"
ct systemctl daemon-reload
ct systemctl restart systemd-timesyncd || true
sync=$(ct timedatectl show-timesync 2>&1 || true)
grep -q "^SystemNTPServers=ntp.plant.example.net" <<<"$sync" || fail "timesyncd: $sync"
grep -q "^PollIntervalMaxUSec=17min 4s" <<<"$sync" || fail "timesyncd: $sync"
ok "timesyncd: $(grep -E '^(SystemNTPServers|PollIntervalMaxUSec)=' <<<"$sync" | paste -sd ' ')"
if ct udevadm verify --help >/dev/null 2>&1; then
    ct udevadm verify /etc/udev/rules.d/99-oee-camera.rules || fail "udevadm verify"
    ok "udevadm verify accepts the rule"
else
    [ -f "$ROOT/etc/udev/rules.d/99-oee-camera.rules" ] || fail "the udev rule is not installed"
    ok "udevadm verify is not in systemd $(ct systemctl --version | head -1 | cut -d' ' -f2) (it came with 254): the rule is installed, not verified"
fi

step "nothing written outside ReadWritePaths"
# Every file the agent's user owns, outside the state folder and the unit's private /tmp.
owned=$(ct find / -xdev -user oee -not -path "$STATE/*" -not -path "$STATE" -not -path '/tmp/systemd-private-*' -print | head -20)
[ -z "$owned" ] || fail "files of oee outside $STATE: $owned"
ok "no file of the oee user outside $STATE (and the unit's private /tmp)"

step "the agents logged no refused call, no traceback, no error"
# The unit refuses system calls with EPERM (SystemCallErrorNumber=) and writes with
# EROFS: a library that met either would leave a trace here.
bad=$(ct journalctl --no-pager -o cat -u "$UNIT" -u "$IDLE_UNIT" |
    grep -E "Traceback|Operation not permitted|Permission denied|Read-only file system| ERROR |SIGSYS" |
    grep -v "pipeline made no progress" || true) # (that one the watchdog step caused)
[ -z "$bad" ] || fail "the agents' journal has: $(head -5 <<<"$bad")"
ok "nothing refused or failed in $(ct journalctl -o cat -u "$UNIT" -u "$IDLE_UNIT" | wc -l) journal lines"

step "systemd-analyze security"
ct systemd-analyze security --no-pager "$UNIT" >"$RUN/security.txt" 2>&1 || true
ok "$(grep -E 'Overall exposure' "$RUN/security.txt")"

step "done"
pi_log "times:"
for t in "${TIMES[@]}"; do pi_log "  $t"; done
pi_log "  total: $((SECONDS - T0)) s"
pi_log "OK: install.sh, the unit and the agent under a real systemd ($SUITE)"
