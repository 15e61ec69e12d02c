"""promtool for tests: built once from its Go module by deploy/prometheus/promtool.sh (`make promtool` does it
before the suite), reused from ~/.cache afterwards."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

__all__ = ["BUILD_LIMIT_SECONDS", "built_promtool", "run_promtool"]

_SCRIPT = Path(__file__).resolve().parents[2] / "deploy" / "prometheus" / "promtool.sh"
# The script stops a build at PROMTOOL_BUILD_TIMEOUT (1200 s) and says so; this only backs it up. Tests that
# may build give pytest-timeout this much more than its default.
BUILD_LIMIT_SECONDS = 1500


def built_promtool() -> Path:
    """The promtool binary, built first if needed; skips the test when there is no Go toolchain to build it."""
    try:
        built = subprocess.run(
            ["bash", str(_SCRIPT), "--install"], capture_output=True, text=True, timeout=BUILD_LIMIT_SECONDS
        )
    except subprocess.TimeoutExpired:
        pytest.fail(f"building promtool took over {BUILD_LIMIT_SECONDS}s: run `make promtool` to see why")
    if built.returncode == 3:
        pytest.skip(f"promtool cannot be built here: {built.stderr.strip()}")
    assert built.returncode == 0, f"building promtool failed:\n{built.stderr}"
    return Path(built.stdout.split()[-1])


def run_promtool(promtool: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(promtool), *args], capture_output=True, text=True, timeout=120)
