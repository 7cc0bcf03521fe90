#!/usr/bin/env bash
# `make pi-check`: install the working tree on arm64 (Debian bookworm, as 64-bit
# Raspberry Pi OS) under qemu user-mode emulation and prove it gives the host's answers.
#
#   1. qemu-aarch64 >= 10 and a bookworm arm64 root file system (cached: pi/build_rootfs.sh)
#   2. the working tree copied in, installed into a venv with arm64 wheels from PyPI
#      (`pip install --only-binary=:all: -e '.[test]'`, as `make demo` does on a Pi)
#   3. pi/probe.py on the host and on arm64 (models, decode, oee, teach, replay), and
#      beside it the test subset in pi/tests.txt on arm64 (two emulated processes at once)
#   4. pi/compare.py: non-zero exit when an answer differs
#   5. pi/wheels.sh: every dependency has an arm64 wheel for Trixie's Python 3.13
#
# Environment: PI_CPU (cortex-a72 = Pi 4, the default; cortex-a76 = Pi 5), PI_SUITE
# (bookworm), PI_CACHE (.cache/pi), PI_SKIP_TESTS=1 (probe and compare only).
# Emulated timings say nothing about a Pi's speed (docs/arm64.md).
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=pi/lib.sh
source "$HERE/lib.sh"
# shellcheck source=pi/build_rootfs.sh
source "$HERE/build_rootfs.sh"

if [ "$(id -u)" != 0 ]; then
    command -v sudo >/dev/null || pi_die "needs root (debootstrap, chroot, mounts)"
    exec sudo --preserve-env=PI_CPU,PI_SUITE,PI_CACHE,PI_SKIP_TESTS "$0" "$@"
fi

HOST_PY=$PI_REPO/.venv/bin/python
[ -x "$HOST_PY" ] || pi_die "no $HOST_PY: run \`make venv\` first (the host side of the comparison)"

GUEST=/opt/oee                     # inside the root file system
SRC=$PI_ROOTFS$GUEST/src
VENV=$GUEST/venv
WORK=$PI_CACHE/run                 # host side of this run's inputs and answers
OPENCV_DATA=/usr/share/doc/opencv-doc/examples/data
declare -a TIMES=()
FAILURES=()
step_start() { STEP_NAME=$1; STEP_T0=$SECONDS; pi_log "$1"; }
step_end() { TIMES+=("$STEP_NAME: $((SECONDS - STEP_T0)) s"); }

HOST_PROBE=
PI_PROBE=
on_exit() {
    set +e # a failing command here must not skip the unmounting
    for probe in "$HOST_PROBE" "$PI_PROBE"; do
        [ -n "$probe" ] && pi_kill_tree "$probe" && wait "$probe" 2>/dev/null
    done
    pi_cleanup
}

pi_lock
trap on_exit EXIT
trap 'exit 130' INT TERM
pi_cleanup
T0=$SECONDS

step_start "qemu and the arm64 root file system"
pi_ensure_qemu
pi_register_binfmt
pi_build_rootfs
step_end

pi_mount_runtime "$PI_ROOTFS"
if [ -d "$OPENCV_DATA" ]; then
    # Real images and footage some tests read (Debian's opencv-doc, arch-independent).
    mkdir -p "$PI_ROOTFS$OPENCV_DATA"
    mount --bind "$OPENCV_DATA" "$PI_ROOTFS$OPENCV_DATA"
    mount -o remount,bind,ro "$PI_ROOTFS$OPENCV_DATA"
fi
cp /etc/resolv.conf "$PI_ROOTFS/etc/resolv.conf"
# The host's CA bundle: pip on the host may go through a TLS-inspecting proxy.
cp /etc/ssl/certs/ca-certificates.crt "$PI_ROOTFS/etc/ssl/certs/host-ca-bundle.crt"

step_start "copying the working tree (tracked and untracked, not ignored)"
pi_remove_tree "$SRC"
mkdir -p "$SRC"
git -C "$PI_REPO" ls-files -z --cached --others --exclude-standard |
    (cd "$PI_REPO" && xargs -0 sh -c 'for f; do [ -e "$f" ] && printf "%s\0" "$f"; done' _) |
    tar -C "$PI_REPO" --null -T - -cf - | tar -C "$SRC" -xf -
step_end

step_start "installing the project with arm64 wheels from PyPI"
PIP_ENV=(PIP_CERT=/etc/ssl/certs/host-ca-bundle.crt PIP_DISABLE_PIP_VERSION_CHECK=1
    PIP_DEFAULT_TIMEOUT=180 PIP_ROOT_USER_ACTION=ignore)
[ -x "$PI_ROOTFS$VENV/bin/python" ] || pi_chroot "$PI_ROOTFS" /usr/bin/python3 -m venv "$VENV"
# What decides the venv: the [project] and [build-system] tables (not pytest's options).
DEPS_KEY=$("$HOST_PY" -c 'import hashlib, json, sys, tomllib
d = tomllib.load(open(sys.argv[1], "rb"))
key = json.dumps([d.get("project"), d.get("build-system")], sort_keys=True)
print(hashlib.sha256(key.encode()).hexdigest()[:16])' "$SRC/pyproject.toml")
DEPS_STAMP=$PI_ROOTFS$VENV/.pi-check-deps
if [ ! -f "$DEPS_STAMP" ] || [ "$(cat "$DEPS_STAMP")" != "$DEPS_KEY" ]; then
    rm -f "$DEPS_STAMP"
    if ! PI_CHROOT_CWD=$GUEST/src pi_chroot "$PI_ROOTFS" "${PIP_ENV[@]}" "$VENV/bin/python" -m pip \
        install --only-binary=:all: --no-compile -e '.[test]' >"$PI_CACHE/pip.log" 2>&1; then
        missing=$(sed -n 's/.*No matching distribution found for \(.*\)/\1/p' "$PI_CACHE/pip.log")
        if [ -n "$missing" ]; then
            pi_die "no arm64 (manylinux aarch64, Python 3.11) wheel on PyPI for: $missing (see $PI_CACHE/pip.log)"
        fi
        pi_die "pip install on arm64 failed, see $PI_CACHE/pip.log: $(grep -m1 ERROR "$PI_CACHE/pip.log" || tail -1 "$PI_CACHE/pip.log")"
    fi
    echo "$DEPS_KEY" >"$DEPS_STAMP"
else
    pi_log "dependencies cached ([project] unchanged); the editable install sees the new tree"
fi
step_end

step_start "the inputs, rendered on the host; the host's answers in the background"
pi_remove_tree "$WORK"
mkdir -p "$WORK"
(cd "$PI_REPO" && "$HOST_PY" pi/probe.py prepare "$WORK/inputs" --src "$PI_REPO" 2>"$WORK/prepare.log") ||
    pi_die "rendering the inputs on the host failed, see $WORK/prepare.log"
(cd "$PI_REPO" && exec "$HOST_PY" pi/probe.py run "$WORK/inputs" "$WORK/host" --src "$PI_REPO" \
    2>"$WORK/host.log") &
HOST_PROBE=$!
step_end

# The probe and the test subset on arm64 at the same time: each is one emulated
# process, and the machine has more than one core.
step_start "the probe on arm64 (and the test subset beside it)"
pi_remove_tree "$PI_ROOTFS$GUEST/work"
mkdir -p "$PI_ROOTFS$GUEST/work"
cp -a "$WORK/inputs" "$PI_ROOTFS$GUEST/work/inputs"
(PI_CHROOT_CWD=$GUEST/src pi_chroot "$PI_ROOTFS" "$VENV/bin/python" pi/probe.py run \
    "$GUEST/work/inputs" "$GUEST/work/pi" --src "$GUEST/src" 2>"$WORK/pi.log") &
PI_PROBE=$!

if [ "${PI_SKIP_TESTS:-0}" != 1 ]; then
    selection=()
    while read -r pattern; do
        case $pattern in '' | '#'*) continue ;; esac
        found=0
        for path in $SRC/$pattern; do
            [ -e "$path" ] && { selection+=("${path#"$SRC"/}"); found=1; }
        done
        [ $found = 1 ] || pi_log "  not in this tree (yet): $pattern"
    done <"$HERE/tests.txt"
    [ ${#selection[@]} -gt 0 ] || pi_die "none of the paths in pi/tests.txt exist"
    pi_log "  tests: ${selection[*]}"
    TESTS_T0=$SECONDS
    if ! PI_CHROOT_CWD=$GUEST/src pi_chroot "$PI_ROOTFS" "$VENV/bin/python" -m pytest \
        -p pi.pytest_emulation -p no:cacheprovider --timeout=3600 -v --durations=10 "${selection[@]}" \
        >"$PI_CACHE/pytest.log" 2>&1; then
        tail -30 "$PI_CACHE/pytest.log" >&2
        FAILURES+=("tests failed on arm64 (log: $PI_CACHE/pytest.log)")
    else
        pi_log "  $(tail -1 "$PI_CACHE/pytest.log")"
    fi
    TIMES+=("the test subset on arm64: $((SECONDS - TESTS_T0)) s")
fi

if ! wait "$PI_PROBE"; then
    PI_PROBE=
    tail -20 "$WORK/pi.log" >&2
    pi_die "the probe failed on arm64, see $WORK/pi.log"
fi
PI_PROBE=
cp -a "$PI_ROOTFS$GUEST/work/pi" "$WORK/pi"
step_end

step_start "waiting for the host's answers"
if ! wait "$HOST_PROBE"; then
    HOST_PROBE=
    pi_die "the probe failed on the host, see $WORK/host.log"
fi
HOST_PROBE=
step_end

step_start "comparing"
"$HOST_PY" "$HERE/compare.py" "$WORK/host" "$WORK/pi" || FAILURES+=("answers differ (above)")
step_end

step_start "arm64 wheels for Trixie's Python 3.13 (resolved on the host, not run)"
"$HERE/wheels.sh" 3.13 41 || FAILURES+=("a dependency has no arm64 wheel for Python 3.13 (above)")
step_end

pi_log "times (emulated: says nothing about a Pi's speed):"
for t in "${TIMES[@]}"; do pi_log "  $t"; done
pi_log "  total: $((SECONDS - T0)) s"
if [ ${#FAILURES[@]} -gt 0 ]; then
    for f in "${FAILURES[@]}"; do printf 'pi-check: FAILED: %s\n' "$f" >&2; done
    exit 1
fi
pi_log "OK: arm64 ($PI_SUITE, $PI_CPU) installs the tree and gives the host's answers"
