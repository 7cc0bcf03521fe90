"""Fixtures of the integration tests: a small certificate authority for TLS brokers."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest


def openssl(*args: str, cwd: Path) -> None:
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True, timeout=30)


def sign(name: str, cn: str, folder: Path, san: str | None = None) -> None:
    ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]
    openssl(
        "req",
        *ec,
        "-keyout",
        f"{name}.key",
        "-out",
        f"{name}.csr",
        "-subj",
        f"/CN={cn}",
        cwd=folder,
    )
    extra = []
    if san:
        (folder / f"{name}.ext").write_text(f"subjectAltName={san}\n")
        extra = ["-extfile", f"{name}.ext"]
    openssl(
        "x509",
        "-req",
        "-in",
        f"{name}.csr",
        "-CA",
        "ca.crt",
        "-CAkey",
        "ca.key",
        "-CAcreateserial",
        "-out",
        f"{name}.crt",
        "-days",
        "2",
        *extra,
        cwd=folder,
    )


@pytest.fixture
def pki(tmp_path) -> Path:
    folder = tmp_path / "pki"
    folder.mkdir()
    openssl(
        "req",
        "-x509",
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:prime256v1",
        "-nodes",
        "-keyout",
        "ca.key",
        "-out",
        "ca.crt",
        "-days",
        "2",
        "-subj",
        "/CN=test-ca",
        cwd=folder,
    )
    sign("server", "127.0.0.1", folder, san="IP:127.0.0.1")
    sign("client", "oee-agent", folder)
    return folder


@pytest.fixture
def password_file(tmp_path: Path):  # noqa: ANN201
    """`password_file({"user": "password", ...})` -> a mosquitto password file."""

    def make(accounts: dict[str, str]) -> Path:
        path = tmp_path / "passwd"
        for user, password in accounts.items():
            create = [] if path.exists() else ["-c"]
            subprocess.run(
                ["mosquitto_passwd", "-b", *create, str(path), user, password],
                check=True,
                timeout=10,
            )
        return path

    return make
