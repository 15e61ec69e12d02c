"""The test Redis itself: loopback only, nothing kept on disk, stoppable and restartable, no orphan."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import pytest
import redis

from tests.support.redis import RedisServer, start_redis


def test_the_server_listens_on_loopback_and_keeps_nothing_on_disk(redis_server: RedisServer) -> None:
    with redis_server.client() as client:
        assert client.config_get("bind")["bind"] == "127.0.0.1"
        assert client.config_get("save")["save"] == ""
        assert client.config_get("appendonly")["appendonly"] == "no"
        client.set("k", "v")
        assert client.get("k") == b"v"


def test_each_test_starts_empty(redis_server: RedisServer) -> None:
    with redis_server.client() as client:
        assert client.dbsize() == 0
        client.set("left-behind", "1")  # the next test must not see it


def test_a_stopped_server_refuses_connections_and_comes_back_empty_on_the_same_port(
    redis_server: RedisServer,
) -> None:
    with redis_server.client() as client:
        client.set("k", "v")
    port = redis_server.port
    redis_server.stop()
    with pytest.raises(redis.ConnectionError), redis_server.client() as client:
        client.ping()
    redis_server.restart()
    assert redis_server.port == port
    with redis_server.client() as client:
        assert client.get("k") is None


def test_a_password_is_required_when_set() -> None:
    with start_redis(password="s3cret-pass") as server:
        with server.client() as client:
            assert client.ping()
        unauthenticated = redis.Redis(host=server.host, port=server.port, socket_timeout=5)
        with pytest.raises(redis.AuthenticationError):
            unauthenticated.get("k")
        unauthenticated.close()


def test_the_server_dies_with_a_killed_test_process() -> None:
    script = (
        "import time\n"
        "from tests.support.redis import start_redis\n"
        "with start_redis() as server:\n"
        "    print(server.process.pid, flush=True)\n"
        "    time.sleep(60)\n"
    )
    parent = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
    assert parent.stdout is not None
    redis_pid = int(parent.stdout.readline())
    os.kill(parent.pid, signal.SIGKILL)
    parent.wait(timeout=10)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            os.kill(redis_pid, 0)
        except ProcessLookupError:
            return
        time.sleep(0.05)
    pytest.fail(f"redis-server {redis_pid} outlived its killed parent")
