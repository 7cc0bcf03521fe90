#!/usr/bin/env bash
# Build (once, then cached) a Debian arm64 root file system with Python for pi/check.sh.
#
#   debootstrap --arch=arm64 --foreign   (host: downloads and unpacks the packages)
#   chroot ... /debootstrap/debootstrap --second-stage   (arm64, under qemu-aarch64)
#
# The result is $PI_CACHE/rootfs-$PI_SUITE with a stamp naming what it was built from;
# a changed recipe rebuilds it. It is built in a .tmp folder and renamed when complete,
# so an interrupted build never leaves a half root file system that looks finished.
set -euo pipefail
# shellcheck source=pi/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

# What a 64-bit Raspberry Pi OS image has that the check needs: its Python with venv.
PI_PACKAGES=python3,python3-venv,ca-certificates
RECIPE="suite=$PI_SUITE variant=minbase include=$PI_PACKAGES recipe=1"

pi_build_rootfs() {
    local stamp=$PI_ROOTFS/.pi-check-rootfs
    if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$RECIPE" ]; then
        pi_log "root file system cached: $PI_ROOTFS"
        return 0
    fi
    command -v debootstrap >/dev/null || {
        pi_log "installing debootstrap from Debian's packages"
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq debootstrap >/dev/null ||
            pi_die "debootstrap is missing and apt-get install debootstrap failed"
    }
    local tmp=$PI_ROOTFS.tmp t0=$SECONDS
    pi_remove_tree "$tmp"
    pi_log "debootstrap $PI_SUITE arm64, first stage (host)"
    # two tries: a mirror hiccup should not fail a CI run
    debootstrap --arch=arm64 --foreign --variant=minbase --include="$PI_PACKAGES" \
        "$PI_SUITE" "$tmp" "$PI_MIRROR" >"$PI_CACHE/debootstrap-1.log" 2>&1 || {
        pi_log "debootstrap first stage failed (see $PI_CACHE/debootstrap-1.log); trying once more"
        pi_remove_tree "$tmp"
        debootstrap --arch=arm64 --foreign --variant=minbase --include="$PI_PACKAGES" \
            "$PI_SUITE" "$tmp" "$PI_MIRROR" >"$PI_CACHE/debootstrap-1.retry.log" 2>&1
    } || pi_die "debootstrap first stage failed twice, see $PI_CACHE/debootstrap-1.retry.log"
    pi_log "debootstrap second stage (arm64 under $("$PI_QEMU" --version | head -1))"
    pi_chroot "$tmp" /debootstrap/debootstrap --second-stage \
        >"$PI_CACHE/debootstrap-2.log" 2>&1 ||
        pi_die "debootstrap second stage failed, see $PI_CACHE/debootstrap-2.log"
    pi_unmount_all_under "$tmp"
    rm -rf "$tmp/var/cache/apt/archives/"*.deb
    echo "$RECIPE" >"$tmp/.pi-check-rootfs"
    pi_remove_tree "$PI_ROOTFS"
    mv "$tmp" "$PI_ROOTFS"
    pi_log "root file system built in $((SECONDS - t0)) s"
}

if [ "${BASH_SOURCE[0]}" = "$0" ]; then
    pi_require_root
    pi_lock
    trap 'set +e; pi_cleanup' EXIT
    pi_cleanup
    pi_ensure_qemu
    pi_register_binfmt
    pi_build_rootfs
fi
