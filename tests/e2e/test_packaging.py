"""The package alone is the product: a wheel built from the source, installed with its declared dependencies
into a fresh virtual environment (no Makefile step), serves, embeds and searches."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import httpx
import pytest

from tests.e2e.conftest import ADMIN_KEY, free_port

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[2]


def _run(*args: str | Path, timeout: float) -> subprocess.CompletedProcess[str]:
    result = subprocess.run([str(a) for a in args], capture_output=True, text=True, timeout=timeout)
    assert result.returncode == 0, f"{args}:\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}"
    return result


def _wait_ready(url: str, server: subprocess.Popen[bytes], log: Path, timeout: float = 90) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert server.poll() is None, f"membank serve exited {server.returncode}:\n{log.read_text()[-3000:]}"
        try:
            if httpx.get(f"{url}/health/ready", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise AssertionError(f"not ready:\n{log.read_text()[-3000:]}")


def test_a_wheel_installed_alone_gives_a_working_server(tmp_path: Path) -> None:
    # Build from a copy of what the package is made of, so the build leaves nothing in the work tree.
    source = tmp_path / "source"
    source.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, source / name)
    shutil.copytree(ROOT / "src", source / "src", ignore=shutil.ignore_patterns("__pycache__", "*.egg-info"))
    built = _run(
        sys.executable, "-m", "pip", "wheel", "--no-deps", "-w", tmp_path / "dist", source, timeout=300
    )
    assert "deprecat" not in (built.stdout + built.stderr).lower(), built.stderr  # e.g. the license table
    (wheel,) = (tmp_path / "dist").glob("membank-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    assert "membank/providers/embedders/minilm_tokenizer.json" in names
    assert "membank/storage/sql/migrations/env.py" in names
    assert any(n.startswith("membank/storage/sql/migrations/versions/0001") for n in names)

    venv = tmp_path / "venv"
    _run(sys.executable, "-m", "venv", venv, timeout=120)
    _run(venv / "bin" / "pip", "install", "-q", wheel, timeout=600)
    installed = _run(venv / "bin" / "pip", "list", "--format=freeze", timeout=60).stdout.lower()
    assert "torch" not in installed and "sentence-transformers" not in installed

    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("MEMBANK_")}
    env.update({"MEMBANK_DATA_DIR": str(tmp_path / "data"), "MEMBANK_ADMIN_API_KEY": ADMIN_KEY})
    log = tmp_path / "serve.log"
    with log.open("wb") as out:
        server = subprocess.Popen(
            [str(venv / "bin" / "membank"), "serve", "--port", str(port)],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            cwd=tmp_path,
        )
        try:
            url = f"http://127.0.0.1:{port}"
            _wait_ready(url, server, log)
            with httpx.Client(base_url=url, headers={"X-API-Key": ADMIN_KEY}, timeout=30) as client:
                created = client.post(
                    "/api/v1/memories", json={"user_id": "u1", "content": "User plays the cello"}
                )
                assert created.status_code == 201, created.text
                hits = client.post(
                    "/api/v1/memories/search", json={"user_id": "u1", "query": "music instrument"}
                )
                assert hits.json()["data"]["memories"][0]["content"] == "User plays the cello"
        finally:
            server.terminate()
            server.wait(timeout=30)
