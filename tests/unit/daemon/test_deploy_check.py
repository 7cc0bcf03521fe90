"""`make deploy-check`'s own parts: its judgements, its lines, and that CI runs it.

The proof itself boots a container under systemd for minutes (deploy/check.sh,
docs/deploy.md); these tests check the pure helpers it relies on, so that a check that
cannot fail would be caught here.
"""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import pytest

from agent.config import load_config

REPO = Path(__file__).resolve().parents[3]


def _load(name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(f"deploy_{name}", REPO / "deploy" / f"{name}.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


proof = _load("proof")
lines = _load("lines")

PRE = "ActiveState=activating|SubState=start-pre|MainPID=0|StatusText="
WAITING = "ActiveState=activating|SubState=start|MainPID=311|StatusText="
READY = "ActiveState=active|SubState=running|MainPID=311|StatusText=line check-1 counting"


def samples(*lines_: str) -> list[dict[str, str]]:
    return [proof.parse_show(line) for line in lines_]


def test_parse_show_keeps_values_with_equals_and_spaces() -> None:
    parsed = proof.parse_show("StatusText=a = b c|MainPID=7\n")
    assert parsed == {"StatusText": "a = b c", "MainPID": "7"}


def test_ready_after_the_agent_waited_in_activating_start() -> None:
    assert proof.readiness_problem(samples(PRE, WAITING, WAITING, READY), "check-1") is None


@pytest.mark.parametrize(
    ("seen", "problem"),
    [
        ((PRE, READY), "without the agent's process being seen waiting"),
        ((WAITING, READY.replace("line check-1 counting", "")), "status text"),
        ((WAITING, READY.replace("running", "exited")), "not active (running)"),
        ((WAITING, "ActiveState=failed|SubState=failed|MainPID=0"), "before it was ready"),
        ((PRE, WAITING), "never active"),
    ],
)
def test_readiness_problems_are_named(seen: tuple[str, ...], problem: str) -> None:
    found = proof.readiness_problem(samples(*seen), "check-1")
    assert found is not None and problem in found


def test_the_cli_fails_on_a_bad_start_up() -> None:
    script = str(REPO / "deploy" / "proof.py")
    good = subprocess.run(
        [sys.executable, script, "ready", "check-1"], input=f"{WAITING}\n{READY}\n", text=True
    )
    bad = subprocess.run(
        [sys.executable, script, "ready", "check-1"], input=f"{PRE}\n{READY}\n", text=True
    )
    assert (good.returncode, bad.returncode) == (0, 1)


@pytest.mark.parametrize(
    ("span", "seconds"), [("20s", 20.0), ("1min 30s", 90.0), ("500ms", 0.5), ("1h", 3600.0)]
)
def test_timespan(span: str, seconds: float) -> None:
    assert proof.timespan_s(span) == pytest.approx(seconds)


def test_timespan_refuses_what_it_cannot_read() -> None:
    with pytest.raises(ValueError):
        proof.timespan_s("infinity")


def test_the_check_lines_are_valid_and_write_only_below_var_lib_oee(tmp_path: Path) -> None:
    for line in lines.LINES:
        path = tmp_path / f"{line.id}.toml"
        path.write_text(lines.line_toml(line.id, "/srv/x.avi", (0, 139, 640, 202), 18830))
        config = load_config(path)
        assert config.line.id == line.id and config.camera is not None and config.camera.loop
        assert config.mqtt.port == 18830
        for where in (config.store_path, config.model_dir):
            assert str(where).startswith(f"/var/lib/oee/{line.id}/")


def test_ci_runs_deploy_check_after_make_test() -> None:
    ci = (REPO / ".ci" / "run").read_text().splitlines()
    commands = [line.strip() for line in ci if line.strip() and not line.strip().startswith("#")]
    test = next(i for i, line in enumerate(commands) if line == "make test")
    deploy = next(i for i, line in enumerate(commands) if "make deploy-check" in line)
    assert deploy > test
    assert "DEPLOY_CACHE=" in commands[deploy]  # cached outside the clone
    makefile = (REPO / "Makefile").read_text()
    assert "deploy-check: venv\n\tdeploy/check.sh" in makefile
    subprocess.run(["bash", "-n", str(REPO / "deploy" / "check.sh")], check=True)


def test_hang_finds_the_threads_but_the_main_one_and_sees_them_wait() -> None:
    import os
    import threading
    import time

    hang = _load("hang")
    release = threading.Event()
    started = threading.Event()
    native: list[int] = []

    def wait() -> None:
        native.append(threading.get_native_id())
        started.set()
        release.wait(30)

    thread = threading.Thread(target=wait)
    thread.start()
    try:
        started.wait(10)
        pid = os.getpid()
        others = hang.other_threads(pid)
        assert native[0] in others and pid not in others
        # blocked on the event: waiting in the kernel, not holding the GIL
        assert any(hang.sleeping(pid, native[0]) or time.sleep(0.01) for _ in range(500))
    finally:
        release.set()
        thread.join(10)
