#!/usr/bin/env bash
# Set up a board from this repository, idempotently: system packages, a dedicated
# user, the code and its venv in /opt/oee, the systemd unit, journald, udev and time
# settings. See docs/deploy.md.
#   sudo firmware_config/install.sh [LINE.toml ...]
# Each LINE.toml given is validated, copied to /etc/oee/<line id>.toml and its service
# enabled and (re)started. Running it again upgrades the code and changes nothing else:
# existing secrets files, the stores and taught models in /var/lib/oee are kept; the
# lines that run restart on the new code.
set -euo pipefail

REPO="$(cd "$(dirname "$0")/.." && pwd)"
PREFIX=/opt/oee
STATE=/var/lib/oee
ETC=/etc/oee
FIRMWARE="$REPO/firmware_config"

if [ "$(id -u)" != 0 ]; then
  echo "install.sh: run it as root (sudo $0)" >&2
  exit 1
fi
for config in "$@"; do
  [ -f "$config" ] || { echo "install.sh: $config: no such file" >&2; exit 1; }
done

echo "== system packages"
apt-get update -qq
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
  python3 python3-venv python3-dev rsync mosquitto-clients v4l-utils sqlite3

echo "== user and folders"
if ! id -u oee >/dev/null 2>&1; then
  useradd --system --home-dir "$STATE" --shell /usr/sbin/nologin --user-group oee
fi
usermod -a -G video oee
install -d -o oee -g oee -m 0750 "$STATE"
install -d -o root -g oee -m 0750 "$ETC"

echo "== code and venv in $PREFIX"
install -d "$PREFIX"
rsync -a --delete --exclude .git --exclude '.venv*' --exclude var --exclude .cache \
  --exclude '__pycache__' "$REPO/" "$PREFIX/src/"
[ -x "$PREFIX/.venv/bin/python" ] || python3 -m venv "$PREFIX/.venv"
"$PREFIX/.venv/bin/pip" install --quiet --upgrade pip
# Editable: the committed models (models/*.tflite + manifests) are read from the source
# tree, next to the code that checks them.
"$PREFIX/.venv/bin/pip" install --quiet --upgrade -e "$PREFIX/src"

echo "== systemd, journald, udev, time"
install -m 0644 "$FIRMWARE/systemd/oee-agent@.service" /etc/systemd/system/
install -d /etc/systemd/journald.conf.d /etc/systemd/timesyncd.conf.d
install -m 0644 "$FIRMWARE/journald/oee.conf" /etc/systemd/journald.conf.d/oee.conf
install -m 0644 "$FIRMWARE/timesyncd/oee.conf" /etc/systemd/timesyncd.conf.d/oee.conf
install -m 0644 "$FIRMWARE/udev/99-oee-camera.rules" /etc/udev/rules.d/
udevadm control --reload-rules 2>/dev/null || true
udevadm trigger --subsystem-match=video4linux 2>/dev/null || true
systemctl daemon-reload
systemctl restart systemd-journald || true
systemctl restart systemd-timesyncd 2>/dev/null || true

restarted=()
for config in "$@"; do
  "$PREFIX/.venv/bin/oee-agent" check-config "$config"
  # line id, store and model folders as the agent will resolve them from /etc/oee
  read -r line store model < <("$PREFIX/.venv/bin/python" - "$config" "$ETC" <<'PY'
import sys, tomllib
from pathlib import Path
from agent.config import parse_config
with open(sys.argv[1], "rb") as f:
    c = parse_config(tomllib.load(f), base_dir=Path(sys.argv[2]))
print(c.line.id, c.store_path.parent, c.model_dir)
PY
)
  for dir in "$store" "$model"; do
    case "$dir" in
      "$STATE"/*) install -d -o oee -g oee -m 0750 "$dir" ;;
      *) echo "install.sh: $config: $dir is outside $STATE, where the service cannot write;" \
              "use absolute paths below $STATE (see firmware_config/press-3.toml)" >&2
         exit 1 ;;
    esac
  done
  install -m 0640 -o root -g oee "$config" "$ETC/$line.toml"
  [ -e "$ETC/$line.env" ] || install -m 0600 /dev/null "$ETC/$line.env"
  systemctl enable "oee-agent@$line"
  systemctl restart "oee-agent@$line"
  restarted+=("oee-agent@$line.service")
  echo "line $line: running (journalctl -u oee-agent@$line -f)"
done

# An upgrade: the other lines that run restart on the new code (a running agent keeps
# the modules it imported until it restarts).
while read -r unit _; do
  case " ${restarted[*]} " in *" $unit "*) continue ;; esac
  systemctl restart "$unit"
  echo "${unit%.service}: restarted on the new code"
done < <(systemctl list-units --plain --no-legend --state=active 'oee-agent@*.service')
echo "== done"
