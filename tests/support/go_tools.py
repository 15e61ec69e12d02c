"""Go-built tools for tests (promtool, helm, actionlint): built once from their Go modules by
deploy/tools/go-tool.sh (`make go-tools` does it before the suite), reused from ~/.cache afterwards."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

__all__ = ["BUILD_LIMIT_SECONDS", "built_tool", "run_tool"]

_SCRIPT = Path(__file__).resolve().parents[2] / "deploy" / "tools" / "go-tool.sh"
# The script stops a build at GO_TOOL_BUILD_TIMEOUT (1200 s) and says so; this only backs it up. Tests that
# may build give pytest-timeout this much more than its default.
BUILD_LIMIT_SECONDS = 1500


def built_tool(name: str) -> Path:
    """The tool's binary, built first if needed; skips the test when there is no Go toolchain to build it."""
    try:
        built = subprocess.run(
            ["bash", str(_SCRIPT), name, "--install"],
            capture_output=True,
            text=True,
            timeout=BUILD_LIMIT_SECONDS,
        )
    except subprocess.TimeoutExpired:
        pytest.fail(f"building {name} took over {BUILD_LIMIT_SECONDS}s: run `make go-tools` to see why")
    if built.returncode == 3:
        pytest.skip(f"{name} cannot be built here: {built.stderr.strip()}")
    assert built.returncode == 0, f"building {name} failed:\n{built.stderr}"
    return Path(built.stdout.split()[-1])


def run_tool(tool: Path, *args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(tool), *args], capture_output=True, text=True, timeout=120, cwd=cwd)
