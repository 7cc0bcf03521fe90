#!/usr/bin/env bash
# Set up a board from this repository, idempotently: system packages, a dedicated
# user, the venv in /opt/oee, the systemd unit, journald and udev settings.
#   sudo firmware_config/install.sh [LINE.toml ...]
# Each LINE.toml given is validated and copied to /etc/oee/<line id>.toml and its
# service enabled. Running it again upgrades the code and changes nothing else.
set -euo pipefail

REPO="$(cd "$(dirname "$0")/.." && pwd)"
PREFIX=/opt/oee
STATE=/var/lib/oee
ETC=/etc/oee

if [ "$(id -u)" != 0 ]; then
  echo "install.sh: run it as root (sudo $0)" >&2
  exit 1
fi

echo "== system packages"
apt-get update -qq
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
  python3 python3-venv rsync mosquitto-clients

echo "== user and folders"
id -u oee >/dev/null 2>&1 || useradd --system --home-dir "$STATE" --shell /usr/sbin/nologin \
  --groups video oee
install -d -o oee -g oee -m 0750 "$STATE"
install -d -o root -g oee -m 0750 "$ETC"

echo "== code and venv in $PREFIX"
install -d "$PREFIX"
rsync -a --delete --exclude .git --exclude '.venv*' --exclude var --exclude .cache \
  "$REPO/" "$PREFIX/src/"
[ -x "$PREFIX/.venv/bin/python" ] || python3 -m venv "$PREFIX/.venv"
"$PREFIX/.venv/bin/pip" install --quiet --upgrade pip
"$PREFIX/.venv/bin/pip" install --quiet "$PREFIX/src"

echo "== systemd, journald, udev"
install -m 0644 "$REPO/firmware_config/systemd/oee-agent@.service" /etc/systemd/system/
install -d /etc/systemd/journald.conf.d
install -m 0644 "$REPO/firmware_config/journald/oee.conf" /etc/systemd/journald.conf.d/oee.conf
install -m 0644 "$REPO/firmware_config/udev/99-oee-camera.rules" /etc/udev/rules.d/
udevadm control --reload-rules 2>/dev/null || true
systemctl daemon-reload
systemctl restart systemd-journald || true

for config in "$@"; do
  "$PREFIX/.venv/bin/oee-agent" check-config "$config"
  line=$("$PREFIX/.venv/bin/python" -c 'import sys, tomllib; print(tomllib.load(open(sys.argv[1], "rb"))["line"]["id"])' "$config")
  install -m 0640 -o root -g oee "$config" "$ETC/$line.toml"
  [ -e "$ETC/$line.env" ] || install -m 0600 /dev/null "$ETC/$line.env"
  systemctl enable --now "oee-agent@$line"
  echo "line $line: running (journalctl -u oee-agent@$line -f)"
done
echo "== done"
