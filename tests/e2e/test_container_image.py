"""The repository's Dockerfile, built and run with podman (no Docker engine here; tests/support/containers.py
says how podman is made to work on these machines): the image serves, answers a create and a search, runs as
its non-root user on a read-only root filesystem, keeps its data on the volume across a restart, passes its
own HEALTHCHECK, and runs `migrate` as an alternative command."""

from __future__ import annotations

import os
import re
import secrets
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.support.containers import ensure_base_image, missing_tools, podman, podman_limits
from tests.support.processes import free_port

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(1800)]

REPO = Path(__file__).resolve().parents[2]
IMAGE_USER = "10001"
ADMIN_KEY = "container-e2e-admin-key-0123456789"


@pytest.fixture(scope="module")
def image() -> Iterator[str]:
    missing = missing_tools()
    if missing:
        pytest.skip(f"the image test needs {', '.join(missing)} (`make install` installs them from Debian)")
    base = ensure_base_image()
    tag = f"localhost/membank:e2e-{secrets.token_hex(4)}"
    started = time.monotonic()
    # --format docker: the OCI image format has no HEALTHCHECK; --network host: pip inside the build reaches
    # PyPI the way the host does.
    built = podman(
        "build", "--format", "docker", "--network", "host", *podman_limits(),
        "--build-arg", f"PYTHON_IMAGE={base}", "--tag", tag, "--file", str(REPO / "Dockerfile"), str(REPO),
        timeout=1500,
    )  # fmt: skip
    assert built.returncode == 0, f"podman build failed:\n{built.stdout[-3000:]}\n{built.stderr[-3000:]}"
    print(f"image built in {time.monotonic() - started:.0f}s")
    try:
        yield tag
    finally:
        podman("rmi", "--force", tag)
        # The builder stage's image is left untagged by every build: without this each run would keep one.
        podman("image", "prune", "--force")


class Container:
    """One detached container of the image on the host's network, removed at the end."""

    def __init__(self, image: str, data: Path) -> None:
        self.name = f"membank-e2e-{secrets.token_hex(4)}"
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        started = podman(
            "run", "--detach", "--name", self.name, "--network", "host", *podman_limits(),
            "--read-only", "--tmpfs", "/tmp", "--volume", f"{data}:/data:U",
            "--env", "MEMBANK_HOST=127.0.0.1", "--env", f"MEMBANK_PORT={self.port}",
            "--env", f"MEMBANK_ADMIN_API_KEY={ADMIN_KEY}",
            image,
        )  # fmt: skip
        assert started.returncode == 0, f"podman run failed: {started.stderr}"
        self.client = httpx.Client(base_url=self.url, headers={"X-API-Key": ADMIN_KEY}, timeout=30)

    def logs(self) -> str:
        shown = podman("logs", self.name)
        return (shown.stdout + shown.stderr)[-4000:]

    def wait_ready(self, timeout: float = 180) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            state = podman("inspect", "--format", "{{.State.Status}}", self.name).stdout.strip()
            if state not in ("created", "running"):
                raise AssertionError(f"container {state}:\n{self.logs()}")
            try:
                if httpx.get(f"{self.url}/health/ready", timeout=2).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.5)
        raise AssertionError(f"container not ready in {timeout}s:\n{self.logs()}")

    def stop(self) -> str:
        """Stop it the way an orchestrator does (SIGTERM, then the grace period); returns its exit code."""
        podman("stop", "--time", "30", self.name, timeout=60)
        return podman("inspect", "--format", "{{.State.ExitCode}}", self.name).stdout.strip()

    def remove(self) -> None:
        self.client.close()
        podman("rm", "--force", self.name, timeout=60)


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    data = tmp_path / "data"
    data.mkdir()
    return data


def test_the_image_serves_searches_and_keeps_its_data_across_a_restart(image: str, data_dir: Path) -> None:
    first = Container(image, data_dir)
    try:
        first.wait_ready()
        created = first.client.post(
            "/api/v1/memories",
            json={"user_id": "alice", "content": "Alice keeps bees on her roof in Lyon"},
        )
        assert created.status_code == 201, created.text
        memory_id = created.json()["data"]["id"]
        found = first.client.post("/api/v1/memories/search", json={"user_id": "alice", "query": "bees"})
        assert [m["id"] for m in found.json()["data"]["memories"]][:1] == [memory_id]
        user = podman("exec", first.name, "id", "-u").stdout.strip()
        assert user == IMAGE_USER
        writable_root = podman("exec", first.name, "touch", "/membank-was-here")
        assert writable_root.returncode != 0 and "Read-only file system" in writable_root.stderr
        health = podman("healthcheck", "run", first.name)
        assert health.returncode == 0, f"HEALTHCHECK failed: {health.stdout}{health.stderr}"
        assert first.stop() == "0", first.logs()
        assert ADMIN_KEY not in first.logs()
    finally:
        first.remove()
    second = Container(image, data_dir)
    try:
        second.wait_ready()
        again = second.client.get(f"/api/v1/memories/{memory_id}")
        assert again.status_code == 200 and again.json()["data"]["content"].startswith("Alice keeps bees")
        found = second.client.post("/api/v1/memories/search", json={"user_id": "alice", "query": "roof"})
        assert memory_id in [m["id"] for m in found.json()["data"]["memories"]]
    finally:
        second.remove()


def test_migrate_runs_as_an_alternative_command(image: str, data_dir: Path) -> None:
    migrated = podman(
        "run", "--rm", "--network", "none", *podman_limits(), "--read-only", "--tmpfs", "/tmp",
        "--volume", f"{data_dir}:/data:U", image, "migrate",
        timeout=300,
    )  # fmt: skip
    assert migrated.returncode == 0, migrated.stderr
    assert re.search(r"\b0001_", migrated.stdout + migrated.stderr), migrated.stdout + migrated.stderr
    assert any(os.scandir(data_dir)), "migrate left nothing on the data volume"
