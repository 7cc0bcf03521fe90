# The two commands of the README. Everything else is a helper of theirs.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
SUDO   := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

.PHONY: test demo lint typecheck pytest broker venv clean pi-check deploy-check

venv: $(STAMP)

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $(STAMP)

# What the tests need from Debian's packages, installed only when missing: the
# mosquitto broker, protoc (decodes Sparkplug payloads independently of our code) and
# opencv-doc (real footage and images nobody here made), systemd (systemd-analyze
# verifies our unit file), tmux (the TUI in a real terminal), GStreamer's RTSP server
# with its H.264 encoder (a real network camera on loopback, run by the system python3),
# FUSE with python3-fusepy (tests/slow_fs.py: a disk whose fsync takes 200 ms, also run
# by the system python3: fusepy has no wheel for the venv).
DEBS := mosquitto mosquitto-clients protobuf-compiler opencv-doc systemd tmux \
        python3-gst-1.0 gir1.2-gst-rtsp-server-1.0 gstreamer1.0-plugins-base \
        gstreamer1.0-plugins-good gstreamer1.0-plugins-ugly python3-fusepy fuse
broker:
	@missing=$$(for p in $(DEBS); do dpkg-query -W -f='$${Status}' $$p 2>/dev/null \
	  | grep -q 'install ok installed' || echo $$p; done); \
	if [ -n "$$missing" ]; then \
	  echo "installing from Debian's packages:" $$missing; \
	  $(SUDO) apt-get update -qq && \
	  DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq --no-install-recommends $$missing; \
	fi

lint: venv
	$(BIN)/ruff check agent tui tests benchmarks models deploy
	$(BIN)/ruff format --check agent tui

typecheck: venv
	$(BIN)/mypy agent tui

# Tests in PYTEST_WORKERS processes (0: serially in this one), a test file to a worker:
# a file's tests share module fixtures (rendered footage, a taught model).
PYTEST_WORKERS ?= 2
pytest: venv broker
	$(BIN)/python -m pytest -q -n $(PYTEST_WORKERS) --dist loadfile

test: venv broker lint typecheck pytest

# make demo [ARGS="--headless 60 | --keep DIR | --broker HOST:PORT | --no-teach"]
demo: venv
	$(BIN)/python -m agent.demo $(ARGS)

# The working tree installed and run on arm64 (Debian bookworm, as 64-bit Raspberry Pi
# OS) under qemu, compared with the host's answers (pi/check.sh, docs/arm64.md); it
# re-runs itself with sudo when not root, keeping PI_CPU, PI_SUITE, PI_SKIP_TESTS.
pi-check: venv
	pi/check.sh

# The board's install path under a real systemd: a fresh Debian 12 booted in a container
# (systemd-nspawn), firmware_config/install.sh run as docs/deploy.md says, the unit's
# promises proven through systemctl and journalctl (deploy/check.sh, docs/deploy.md);
# as root (re-runs itself with sudo), root file system cached in DEPLOY_CACHE.
deploy-check: venv
	deploy/check.sh

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
