# The two commands of the README. Everything else is a helper of theirs.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
SUDO   := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

.PHONY: test demo lint typecheck pytest broker venv clean

venv: $(STAMP)

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $(STAMP)

# mosquitto and protoc from Debian's packages, only when missing.
broker:
	@if ! command -v mosquitto >/dev/null 2>&1 && [ ! -x /usr/sbin/mosquitto ] \
	   || ! command -v protoc >/dev/null 2>&1; then \
	  echo "installing mosquitto and protobuf-compiler from Debian's packages"; \
	  $(SUDO) apt-get update -qq && \
	  DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq mosquitto protobuf-compiler; \
	fi

lint: venv
	$(BIN)/ruff check agent tui tests benchmarks models
	$(BIN)/ruff format --check agent tui

typecheck: venv
	$(BIN)/mypy agent tui

pytest: venv broker
	$(BIN)/python -m pytest -q

test: venv broker lint typecheck pytest

demo: venv
	$(BIN)/python -m agent.demo

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
