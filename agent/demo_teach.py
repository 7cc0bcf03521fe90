"""The demo's inspection model: taught on the good footage with `oee-agent teach`, once.

A mark beside the line file records which footage and which inspection and counting
code taught the model, so the demo teaches again only when one of them changed.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import subprocess
import sys
from pathlib import Path

from agent.config import Config
from agent.demo_footage import Footage

#: The file beside the line file saying what the model was taught on.
TAUGHT_MARK = "taught.json"


def teach_available() -> bool:
    """Whether this build has `oee-agent teach`."""
    return importlib.util.find_spec("agent.inspection.teach") is not None


def teach_fingerprint(good: Footage) -> str:
    """What decides a taught model: the good footage, the inspection and counting code.

    The counter makes the views teach learns from (crops, masks, the light), so a
    change to counting changes the model as much as one to inspection.
    """
    import agent.counting
    import agent.inspection

    digest = hashlib.sha256(good.fingerprint.encode())
    for package in (agent.counting, agent.inspection):
        for source in sorted(Path(package.__file__ or "").parent.glob("*.py")):
            digest.update(source.read_bytes())
    return digest.hexdigest()[:16]


def ensure_model(config_file: Path, config: Config, good: Footage) -> tuple[str, bool]:
    """Teach the line on `good` unless a model taught on it by this code is there.

    Returns:
        A sentence saying what happened, for the user, and whether to inspect.
    """
    mark = config_file.parent / TAUGHT_MARK
    manifest = config.model_dir / "manifest.json"
    wanted = teach_fingerprint(good)
    if manifest.is_file() and mark.is_file():
        try:
            if json.loads(mark.read_text(encoding="utf-8")).get("taught") == wanted:
                return f"inspection model: reusing {config.model_dir}", True
        except (OSError, ValueError):
            pass
    if not teach_available():
        return "inspection off: this build has no `oee-agent teach` yet", False
    print(f"teaching the line on {good.parts} good parts ({good.path.name}) ...", flush=True)
    command = [
        sys.executable,
        "-m",
        "agent",
        "--log-level",
        "WARNING",
        "teach",
        str(good.path),
        "--config",
        str(config_file),
    ]
    mark.unlink(missing_ok=True)
    # the child draws its own progress bar on this terminal
    result = subprocess.run(command, check=False)
    if result.returncode != 0 or not manifest.is_file():
        return f"inspection off: teaching failed (exit {result.returncode}, see above)", False
    mark.write_text(json.dumps({"taught": wanted}), encoding="utf-8")
    return f"inspection model: taught into {config.model_dir}", True
