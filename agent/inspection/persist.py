"""Persistence: a taught line in a folder with its own manifest, written atomically.

The folder holds `line_model.npz` (the model's arrays), `manifest.json` (format,
sha256 of the arrays, the model's scalars, the backbone it needs, how it was taught;
written last), `teach.json` (the report) and, when trained, the defect classifier.
`LineModel.to_saved` / `from_saved` say which field goes where.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np

from agent.errors import UserError
from agent.inspection.classifier import CLASSIFIER_FILE
from agent.inspection.model import LineModel, Taught
from agent.inspection.report import REPORT_FILE
from agent.inspection.runtime import Backbone, file_sha256

FORMAT = "oee-inspection-line/1"
MODEL_FILE = "line_model.npz"
MANIFEST_FILE = "manifest.json"


def _write_synced(path: Path, write: Callable[[BinaryIO], object]) -> None:
    """Open `path` for binary writing, let `write(f)` fill it, fsync it."""
    with open(path, "wb") as f:
        write(f)
        f.flush()
        os.fsync(f.fileno())


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _manifest(
    taught: Taught, scalars: dict[str, Any], sha: str, backbone: Backbone | None
) -> dict[str, Any]:
    needs = None
    if taught.model.patches is not None and backbone is not None:
        needs = {"name": backbone.path.stem, "sha256": backbone.manifest["sha256"]}
    return {
        "format": FORMAT,
        "created": datetime.now(UTC).isoformat(timespec="seconds"),
        "files": {MODEL_FILE: sha},
        **scalars,
        "backbone": needs,
        "teach": taught.info,
    }


def _write_folder(taught: Taught, folder: Path, backbone: Backbone | None) -> None:
    arrays, scalars = taught.model.to_saved()
    _write_synced(folder / MODEL_FILE, lambda f: np.savez_compressed(f, **arrays))  # type: ignore[arg-type]
    manifest = _manifest(taught, scalars, file_sha256(folder / MODEL_FILE), backbone)
    if taught.report is not None:
        text = json.dumps(taught.report, indent=2) + "\n"
        _write_synced(folder / REPORT_FILE, lambda f: f.write(text.encode()))
    text = json.dumps(manifest, indent=2) + "\n"
    _write_synced(folder / MANIFEST_FILE, lambda f: f.write(text.encode()))


def save_taught(taught: Taught, model_dir: Path, backbone: Backbone | None) -> Path:
    """Write a taught line into `model_dir` atomically: a temporary folder, fsync, rename.

    A reader sees the old model or the new one, never a half-written one. A defect
    classifier trained for this line outlives re-teaching.
    """
    model_dir = Path(model_dir)
    model_dir.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{model_dir.name}.tmp-", dir=model_dir.parent))
    try:
        tmp.chmod(0o755)  # mkdtemp makes it private; the model is no secret
        _write_folder(taught, tmp, backbone)
        for name in (CLASSIFIER_FILE, Path(CLASSIFIER_FILE).with_suffix(".json").name):
            if (model_dir / name).is_file():
                shutil.copy2(model_dir / name, tmp / name)
        _fsync_dir(tmp)
        old = None
        if model_dir.exists():
            old = model_dir.parent / f".{model_dir.name}.old-{os.getpid()}"
            os.replace(model_dir, old)
        os.replace(tmp, model_dir)
        _fsync_dir(model_dir.parent)
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return model_dir


def has_taught(model_dir: Path | None) -> bool:
    """Whether `model_dir` holds a complete taught model (its manifest is written last)."""
    return model_dir is not None and (Path(model_dir) / MANIFEST_FILE).is_file()


def load_taught(model_dir: Path) -> tuple[Taught, str | None]:
    """Read a taught line; returns it and the backbone name it needs (None: pixels only).

    Raises:
        UserError: the folder's files do not match its manifest.
    """
    model_dir = Path(model_dir)
    reteach = (
        f"teach the line again (oee-agent teach VIDEO --config LINE.toml) to replace {model_dir}"
    )
    try:
        manifest = json.loads((model_dir / MANIFEST_FILE).read_text())
    except (OSError, json.JSONDecodeError) as exc:
        raise UserError(f"inspection model manifest unreadable ({exc}): {reteach}") from None
    if manifest.get("format") != FORMAT:
        raise UserError(f"{model_dir} holds an unknown model format: {reteach}")
    path = model_dir / MODEL_FILE
    if not path.is_file() or file_sha256(path) != manifest["files"].get(MODEL_FILE):
        raise UserError(f"{path} is missing or does not match its manifest: {reteach}")
    with np.load(path) as data:
        arrays = {k: data[k] for k in data.files}
    try:
        model = LineModel.from_saved(arrays, manifest)
    except KeyError as exc:
        raise UserError(f"{model_dir} lacks {exc}: {reteach}") from None
    backbone = manifest.get("backbone")
    return Taught(model, manifest.get("teach", {})), (backbone["name"] if backbone else None)
