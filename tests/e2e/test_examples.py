"""examples/chat_agent.py runs as documented against a real server: it remembers across turns, answers with
an OpenAI-compatible model when one is set (the local Gemma here), and reports a refused key readably."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e.conftest import ADMIN_KEY, Served, served_module
from tests.support.llama_server import start_llama_server

pytestmark = pytest.mark.e2e

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "chat_agent.py"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    with served_module(tmp_path_factory.mktemp("examples")) as module_server:
        yield module_server


def _run(server: Served, *messages: str, **env: str) -> subprocess.CompletedProcess[str]:
    base = {k: v for k, v in os.environ.items() if not k.startswith(("MEMBANK_", "LLM_"))}
    base.update({"MEMBANK_API_URL": server.url, "MEMBANK_API_KEY": ADMIN_KEY, **env})
    return subprocess.run(
        [sys.executable, str(EXAMPLE), *messages], env=base, capture_output=True, text=True, timeout=300
    )


def test_the_agent_remembers_across_turns(server: Served) -> None:
    ran = _run(server, "I moved to Lisbon and I work as a nurse.", "Where do I live?", CHAT_USER_ID="ana")
    assert ran.returncode == 0, ran.stderr
    turns = ran.stdout.split("user> ")[1:]
    assert len(turns) == 2 and "(memory: completed" in turns[0]
    assert "I know nothing about you yet." in turns[0]
    assert "Lisbon" in turns[1].split("assistant> ")[1], ran.stdout


def test_the_agent_answers_with_the_local_model(server: Served) -> None:
    with start_llama_server() as llm:
        ran = _run(
            server, "I keep two cats.", CHAT_USER_ID="ben", LLM_BASE_URL=llm.base_url, LLM_MODEL=llm.model
        )
    assert ran.returncode == 0, ran.stderr
    reply = ran.stdout.split("assistant> ")[1].split("\n(memory:")[0]
    assert reply.strip(), ran.stdout
    assert "(memory: completed" in ran.stdout


def test_a_refused_key_is_reported_with_its_code(server: Served) -> None:
    ran = _run(server, "hello", MEMBANK_API_KEY="mbk_not-a-key")
    assert ran.returncode == 1
    assert ran.stderr.startswith("MemBank said UNAUTHORIZED (401)") and "mbk_not-a-key" not in ran.stderr
