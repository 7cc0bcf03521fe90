#!/usr/bin/env bash
# Does every dependency of the project have an arm64 wheel for a given Python?
#
#   pi/wheels.sh 3.13 41     # Python 3.13, glibc 2.41: Raspberry Pi OS trixie
#
# pip resolves `.[test]` natively on the host for the manylinux aarch64 platforms the
# glibc allows, with --only-binary=:all: and --dry-run: nothing is downloaded to install
# or run. This proves installability only; pi/check.sh runs the code (bookworm, 3.11).
# The host's pip configuration is ignored (--isolated): only PyPI counts.
set -euo pipefail
PYVER=${1:?usage: pi/wheels.sh PYTHON_VERSION GLIBC_MINOR}
GLIBC_MINOR=${2:?usage: pi/wheels.sh PYTHON_VERSION GLIBC_MINOR}
REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
HOST_PY=$REPO/.venv/bin/python

platforms=(--platform manylinux2014_aarch64)
for minor in $(seq 17 "$GLIBC_MINOR"); do
    platforms+=(--platform "manylinux_2_${minor}_aarch64")
done
cert=()
[ -f /etc/ssl/certs/ca-certificates.crt ] && cert=(--cert /etc/ssl/certs/ca-certificates.crt)
target=$(mktemp -d)
log=$(mktemp)
trap 'rm -rf "$target" "$log"' EXIT
if ! (cd "$REPO" && "$HOST_PY" -m pip install --isolated "${cert[@]}" --dry-run --quiet \
    --ignore-installed --target "$target" --only-binary=:all: "${platforms[@]}" \
    --python-version "$PYVER" --implementation cp '.[test]') >"$log" 2>&1; then
    missing=$(sed -n 's/.*No matching distribution found for \(.*\)/\1/p' "$log")
    printf 'pi-check: FAILED: no arm64 wheel on PyPI for Python %s (glibc 2.%s): %s\n' \
        "$PYVER" "$GLIBC_MINOR" "${missing:-$(tail -1 "$log")}" >&2
    exit 1
fi
printf 'pi-check: every dependency has an arm64 wheel for Python %s (glibc 2.%s)\n' \
    "$PYVER" "$GLIBC_MINOR" >&2
