# Shared helpers of pi/check.sh and pi/build_rootfs.sh (sourced, not run).
#
# Everything the check builds lives under $PI_CACHE (git-ignored). Every mount it makes
# is under $PI_CACHE and is undone by pi_cleanup, which the entry scripts run from an
# EXIT trap and also at start (a run killed with SIGKILL cannot clean up after itself).

PI_REPO=${PI_REPO:-$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)}
PI_CACHE=${PI_CACHE:-$PI_REPO/.cache/pi}
PI_SUITE=${PI_SUITE:-bookworm}
PI_MIRROR=${PI_MIRROR:-http://deb.debian.org/debian}
PI_ROOTFS=$PI_CACHE/rootfs-$PI_SUITE
# Pi 4 = cortex-a72, Pi 5 = cortex-a76: without it qemu's default "max" CPU offers
# instructions (SVE, i8mm, ...) that a Pi lacks and XNNPACK would pick kernels for them.
PI_CPU=${PI_CPU:-cortex-a72}
# qemu-user from bookworm-backports: Debian 12's own 7.2 segfaults when LiteRT builds
# an Interpreter. The package is statically linked, so the bare binary is enough.
PI_QEMU_SUITE=${PI_QEMU_SUITE:-bookworm-backports}
PI_QEMU_MIN_MAJOR=10
PI_QEMU=$PI_CACHE/qemu/qemu-aarch64
PI_BINFMT_NAME=oee-pi-check-aarch64
PI_BINFMT_DIR=/proc/sys/fs/binfmt_misc
# Present while binfmt_misc is mounted because of us (survives a killed run).
PI_BINFMT_MARK=$PI_CACHE/binfmt-mounted-by-pi-check

# The name log lines start with (deploy/check.sh reuses these helpers).
PI_LOG_NAME=${PI_LOG_NAME:-pi-check}
pi_log() { printf '%s: %s\n' "$PI_LOG_NAME" "$*" >&2; }
pi_die() { printf '%s: FAILED: %s\n' "$PI_LOG_NAME" "$*" >&2; exit 1; }

pi_require_root() {
    [ "$(id -u)" = 0 ] || pi_die "needs root (debootstrap, chroot, mounts): run it with sudo"
}

# Mount points under $1, deepest first.
pi_mounts_under() {
    local root
    root=$(realpath -m "$1")
    awk -v root="$root" '$2 == root || index($2, root "/") == 1 { print $2 }' /proc/self/mounts |
        sort -r
}

pi_unmount_all_under() {
    local mp
    for mp in $(pi_mounts_under "$1"); do
        umount "$mp" 2>/dev/null || umount -l "$mp" || true
    done
    if [ -n "$(pi_mounts_under "$1")" ]; then
        pi_die "could not unmount everything under $1: $(pi_mounts_under "$1" | tr '\n' ' ')"
    fi
}

# rm -rf that refuses while anything is mounted inside (a bind-mounted /dev would go too).
pi_remove_tree() {
    [ -e "$1" ] || return 0
    pi_unmount_all_under "$1"
    rm -rf --one-file-system "$1"
}

# /proc, /dev and a read-only /sys. /sys matters: without /sys/devices/system/cpu,
# XNNPACK's cpuinfo fails and LiteRT's int8 outputs on arm64 stop matching the host's
# (measured); with it they are bit-exact.
pi_mount_runtime() {
    local root=$1
    mkdir -p "$root/proc" "$root/dev" "$root/sys"
    mountpoint -q "$root/proc" || mount -t proc proc "$root/proc"
    mountpoint -q "$root/dev" || mount --bind /dev "$root/dev"
    if ! mountpoint -q "$root/sys"; then
        mount --bind /sys "$root/sys"
        mount -o remount,bind,ro "$root/sys"
    fi
}

pi_apt() {
    # apt against a sources list and state of our own: the host's apt configuration
    # and lists are never touched.
    local apt=$PI_CACHE/apt
    apt-get -q -o Dir::Etc::SourceList="$apt/sources.list" -o Dir::Etc::SourceParts=/dev/null \
        -o Dir::State::Lists="$apt/lists" -o Dir::Cache="$apt/cache" \
        -o APT::Sandbox::User=root -o Debug::NoLocking=1 "$@"
}

pi_ensure_qemu() {
    if [ -x "$PI_QEMU" ] && "$PI_QEMU" --version | head -1 | grep -Eq "version (1[0-9]|[2-9][0-9])\."; then
        return 0
    fi
    pi_log "fetching qemu-user >= $PI_QEMU_MIN_MAJOR from $PI_QEMU_SUITE"
    local apt=$PI_CACHE/apt dl
    mkdir -p "$apt/lists/partial" "$apt/cache/archives/partial" "$PI_CACHE/qemu"
    echo "deb $PI_MIRROR $PI_QEMU_SUITE main" >"$apt/sources.list"
    pi_apt update >/dev/null || pi_die "apt-get update of $PI_QEMU_SUITE failed (network?)"
    dl=$(mktemp -d "$PI_CACHE/qemu/dl.XXXXXX")
    (cd "$dl" && pi_apt download qemu-user >/dev/null) ||
        pi_die "apt-get download qemu-user from $PI_QEMU_SUITE failed"
    dpkg-deb -x "$dl"/qemu-user_*.deb "$dl/x"
    install -m 755 "$dl/x/usr/bin/qemu-aarch64" "$PI_QEMU.new"
    mv "$PI_QEMU.new" "$PI_QEMU"
    rm -rf "$dl"
    "$PI_QEMU" --version | head -1 | grep -Eq "version (1[0-9]|[2-9][0-9])\." ||
        pi_die "$("$PI_QEMU" --version | head -1) is older than $PI_QEMU_MIN_MAJOR"
}

# binfmt_misc entry so that arm64 programs started inside the chroot (dpkg's scripts,
# pip's build backend, subprocesses of tests) run under our qemu. Flag F: the kernel
# opens the interpreter now, so it need not exist inside the chroot.
pi_register_binfmt() {
    if [ ! -e "$PI_BINFMT_DIR/register" ]; then
        mount -t binfmt_misc binfmt_misc "$PI_BINFMT_DIR" ||
            pi_die "cannot mount binfmt_misc (needs a privileged root)"
        touch "$PI_BINFMT_MARK"
    fi
    [ -e "$PI_BINFMT_DIR/$PI_BINFMT_NAME" ] && echo -1 >"$PI_BINFMT_DIR/$PI_BINFMT_NAME"
    local magic='\x7f\x45\x4c\x46\x02\x01\x01\x00\x00\x00\x00\x00\x00\x00\x00\x00\x02\x00\xb7\x00'
    local mask='\xff\xff\xff\xff\xff\xff\xff\x00\xff\xff\xff\xff\xff\xff\xff\xff\xfe\xff\xff\xff'
    printf ':%s:M::%s:%s:%s:F\n' "$PI_BINFMT_NAME" "$magic" "$mask" "$PI_QEMU" \
        >"$PI_BINFMT_DIR/register" || pi_die "cannot register the aarch64 binfmt_misc entry"
}

pi_unregister_binfmt() {
    if [ -e "$PI_BINFMT_DIR/$PI_BINFMT_NAME" ]; then
        echo -1 >"$PI_BINFMT_DIR/$PI_BINFMT_NAME" || true
    fi
    if [ -e "$PI_BINFMT_MARK" ] && [ -e "$PI_BINFMT_DIR/register" ] &&
        [ "$(ls "$PI_BINFMT_DIR")" = "$(printf 'register\nstatus')" ]; then
        umount "$PI_BINFMT_DIR" && rm -f "$PI_BINFMT_MARK"
    fi
}

# A process and everything it started (the probes start `oee-agent` commands), deepest
# first, so that nothing keeps running emulated after the check has ended.
pi_kill_tree() {
    local child
    for child in $(pgrep -P "$1"); do pi_kill_tree "$child"; done
    kill "$1" 2>/dev/null || true
}

pi_cleanup() {
    pi_unmount_all_under "$PI_CACHE"
    pi_unregister_binfmt
}

# Run a command in the chroot with a clean environment, in $PI_CHROOT_CWD (default /).
pi_chroot() {
    local root=$1
    shift
    chroot "$root" /usr/bin/env -i -C "${PI_CHROOT_CWD:-/}" \
        PATH=/usr/local/bin:/usr/bin:/bin HOME=/root LANG=C.UTF-8 TZ=UTC \
        QEMU_CPU="$PI_CPU" "$@"
}

# One run at a time per cache: runs share the root file system.
pi_lock() {
    mkdir -p "$PI_CACHE"
    exec 9>"$PI_CACHE/lock"
    flock -n 9 || { pi_log "another run holds $PI_CACHE/lock; waiting"; flock 9; }
}
