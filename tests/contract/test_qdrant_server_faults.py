"""The Qdrant server adapter when the server is not there or misbehaves, over real sockets: a closed port, a
name that does not resolve, a real HTTP server answering 503/401 (it counts what reaches it), a TLS server
with a self-signed certificate. Every failure is an `IndexUnavailable` with a cause, quickly, with the API
key in no message; the circuit breaker opens, refuses without connecting, and half-opens."""

from __future__ import annotations

import json
import socket
import ssl
import subprocess
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from membank.errors import IndexUnavailable
from membank.models import Scope
from membank.storage.qdrant_server import QdrantServerIndex
from tests.contract.test_vector_index import doc

DIM = 8
# The key goes over plain HTTP to these local servers (TLS has its own test): qdrant-client warns, rightly.
pytestmark = pytest.mark.filterwarnings("ignore:Api key is used with an insecure connection:UserWarning")
API_KEY = "qk-very-secret-key-0123456789"


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port  # nothing listens on it any more: connections are refused


def connect(url: str, **options: Any) -> QdrantServerIndex:
    settings: dict[str, Any] = {
        "api_key": API_KEY,
        "timeout_seconds": 2,
        "retries": 2,
        "backoff_seconds": 0.01,
        "breaker_failures": 3,
        "breaker_reset_seconds": 0.5,
    }
    settings.update(options)
    return QdrantServerIndex.connect(url, DIM, **settings)


def assert_no_secret(error: IndexUnavailable) -> None:
    for text in (str(error), repr(error), json.dumps(error.details), repr(error.__cause__)):
        assert API_KEY not in text
    # The client's exception (which may hold headers) is not chained to what callers log.
    assert error.__cause__ is None
    assert error.__context__ is None or error.__suppress_context__


class AnsweringServer:
    """A real HTTP server that answers every request with `status` and a body echoing the request headers
    (the API key among them), and counts the requests."""

    def __init__(self, *, tls: ssl.SSLContext | None = None) -> None:
        self.status = 503
        self.requests = 0
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def _answer(self) -> None:
                owner.requests += 1
                length = int(self.headers.get("Content-Length") or 0)
                if length:
                    self.rfile.read(length)
                body = json.dumps({"status": {"error": f"echo {dict(self.headers)}"}}).encode()
                self.send_response(owner.status)
                if owner.status == 429:
                    self.send_header("Retry-After", "1")
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            do_GET = do_PUT = do_POST = do_DELETE = _answer

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        if tls is not None:
            self._server.socket = tls.wrap_socket(self._server.socket, server_side=True)
        self.port = self._server.server_address[1]
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()


@pytest.fixture
def answering() -> Iterator[AnsweringServer]:
    server = AnsweringServer()
    yield server
    server.close()


def test_connection_refused_is_index_unavailable_quickly() -> None:
    started = time.monotonic()
    index = connect(f"http://127.0.0.1:{closed_port()}")  # the constructor does not fail
    try:
        for operation in (
            index.ping,
            index.count,
            lambda: index.upsert([doc("a")]),
            lambda: index.search(Scope("t1", "u1"), [1.0] * DIM, "fox", filter=None, as_of=1e4, limit=5),
        ):
            with pytest.raises(IndexUnavailable) as caught:
                operation()
            assert caught.value.cause == "unreachable"
            assert_no_secret(caught.value)
        assert "127.0.0.1" in str(caught.value)
    finally:
        index.close()
    # Three retries per call at most, 10 ms apart, then the breaker answers at once: well under a second.
    assert time.monotonic() - started < 3


def test_a_name_that_does_not_resolve_is_unreachable() -> None:
    index = connect("http://qdrant.invalid:6333", retries=0)
    try:
        with pytest.raises(IndexUnavailable) as caught:
            index.ping()
        assert caught.value.cause == "unreachable"
        assert "qdrant.invalid" in str(caught.value)
    finally:
        index.close()


def test_credentials_in_the_url_stay_out_of_messages() -> None:
    index = connect(f"http://admin:{API_KEY}@127.0.0.1:{closed_port()}", retries=0)
    try:
        with pytest.raises(IndexUnavailable) as caught:
            index.ping()
        assert_no_secret(caught.value)
    finally:
        index.close()


def test_5xx_is_retried_then_the_breaker_opens_and_half_opens(answering: AnsweringServer) -> None:
    index = connect(f"http://127.0.0.1:{answering.port}")
    try:
        # The constructor's lookup of the collection: 1 try + 2 retries, all 503.
        assert answering.requests == 3
        assert index.breaker.state == "closed"
        for _ in range(2):
            with pytest.raises(IndexUnavailable) as caught:
                index.ping()
            assert caught.value.cause == "unreachable"
            assert "HTTP 503" in str(caught.value)
            assert_no_secret(caught.value)  # the server echoed the api-key header: it is redacted
            assert "***" in str(caught.value)
        assert answering.requests == 9
        assert index.breaker.state == "open"

        # Open: refused at once, nothing reaches the server.
        started = time.monotonic()
        for _ in range(20):
            with pytest.raises(IndexUnavailable, match="circuit breaker open") as caught:
                index.upsert([doc("a")])
            assert caught.value.cause == "unreachable"
            assert caught.value.details["breaker"] == "open"
        assert time.monotonic() - started < 0.5
        assert answering.requests == 9

        # Half-open after the reset time: one trial goes out; its failure opens the breaker again.
        time.sleep(0.6)
        assert index.breaker.state == "half-open"
        with pytest.raises(IndexUnavailable, match="HTTP 503"):
            index.count()
        assert answering.requests == 12
        assert index.breaker.state == "open"
        with pytest.raises(IndexUnavailable, match="circuit breaker open"):
            index.count()
        assert answering.requests == 12

        # The server answers again (401: up, but refusing this key): the trial is not retried and the breaker
        # no longer counts it as down.
        time.sleep(0.6)
        answering.status = 401
        with pytest.raises(IndexUnavailable, match="HTTP 401") as caught:
            index.ping()
        assert caught.value.cause == "error"
        assert_no_secret(caught.value)
        assert answering.requests == 13
        assert index.breaker.state == "half-open"
    finally:
        index.close()


def test_a_rate_limited_call_waits_as_long_as_retry_after_says(answering: AnsweringServer) -> None:
    answering.status = 429
    index = connect(f"http://127.0.0.1:{answering.port}", retries=1)
    try:
        answering.requests = 0
        started = time.monotonic()
        with pytest.raises(IndexUnavailable, match="HTTP 429") as caught:
            index.count()
        assert caught.value.cause == "unreachable"
        assert answering.requests == 2
        assert time.monotonic() - started >= 1.0  # Retry-After: 1, not the 10 ms back-off
    finally:
        index.close()


def test_refusals_are_not_retried_and_do_not_trip_the_breaker(answering: AnsweringServer) -> None:
    answering.status = 403
    index = connect(f"http://127.0.0.1:{answering.port}", breaker_failures=1)
    try:
        for _ in range(3):
            with pytest.raises(IndexUnavailable, match="refused") as caught:
                index.count()
            assert caught.value.cause == "error"
        assert answering.requests == 4  # the constructor's lookup and three calls, one request each
        assert index.breaker.state == "closed"
    finally:
        index.close()


def test_a_closed_index_says_so_without_calling(answering: AnsweringServer) -> None:
    index = connect(f"http://127.0.0.1:{answering.port}")
    index.close()
    seen = answering.requests
    with pytest.raises(IndexUnavailable) as caught:
        index.count()
    assert caught.value.cause == "closed"
    index.close()
    assert answering.requests == seen


@pytest.fixture(scope="module")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A self-signed certificate for 127.0.0.1 (made by the openssl command line)."""
    where = tmp_path_factory.mktemp("tls")
    cert, key = where / "cert.pem", where / "key.pem"
    subprocess.run(
        [
            "openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
            "-keyout", str(key), "-out", str(cert),
            "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1",
        ],
        check=True,
        capture_output=True,
        timeout=60,
    )  # fmt: skip
    return cert, key


def test_tls_verifies_the_server_against_the_ca_bundle(certificate: tuple[Path, Path]) -> None:
    cert, key = certificate
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    server = AnsweringServer(tls=context)
    server.status = 401
    try:
        # The system CAs do not know this certificate: the handshake fails, nothing is sent.
        untrusted = connect(f"https://127.0.0.1:{server.port}", retries=0)
        with pytest.raises(IndexUnavailable, match="CERTIFICATE_VERIFY_FAILED") as caught:
            untrusted.ping()
        assert caught.value.cause == "unreachable"
        untrusted.close()
        assert server.requests == 0
        # Trusting the bundle, the request gets through TLS and the server's own answer comes back.
        trusted = connect(f"https://127.0.0.1:{server.port}", retries=0, ca_bundle=cert)
        with pytest.raises(IndexUnavailable, match="HTTP 401"):
            trusted.ping()
        trusted.close()
        assert server.requests >= 1
    finally:
        server.close()


def test_a_collection_of_another_vector_size_is_left_alone_until_reindex(tmp_path: Path) -> None:
    first = QdrantServerIndex.local(tmp_path / "q", DIM)
    first.upsert([doc("a")])
    first.close()
    other = QdrantServerIndex.local(tmp_path / "q", 4)
    try:
        with pytest.raises(IndexUnavailable, match="8-dimensional vectors, not 4") as caught:
            other.ping()
        assert caught.value.cause == "incompatible"  # not a rebuild cause: nothing is dropped by itself
        with pytest.raises(IndexUnavailable):
            other.upsert([doc("b", vector=[1.0, 0.0, 0.0, 0.0])])
        assert other.clear() is None  # what `membank reindex` does
        other.upsert([doc("b", vector=[1.0, 0.0, 0.0, 0.0])])
        assert other.count() == 1
        other.ping()
    finally:
        other.close()


def test_local_storage_in_use_is_locked_not_a_raw_error(tmp_path: Path) -> None:
    owner = QdrantServerIndex.local(tmp_path / "q", DIM)
    try:
        with pytest.raises(IndexUnavailable, match="already accessed") as caught:
            QdrantServerIndex.local(tmp_path / "q", DIM)
        assert caught.value.cause == "locked"
    finally:
        owner.close()
