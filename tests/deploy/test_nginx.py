"""deploy/compose/nginx/nginx.conf, the TLS front of the prod stack: `nginx -t` accepts it (with a self-signed
certificate made here), and it carries seed 000's security headers on every answer, flood limits on every route
it proxies, the forwarding headers the API trusts, and no public /metrics. Each check also fails on a broken copy.

nginx is Debian's binary, unpacked (never installed) by deploy/tools/debian-nginx.sh; off Debian the
`nginx -t` tests skip."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
NGINX_CONF = ROOT / "deploy" / "compose" / "nginx" / "nginx.conf"
FETCH = ROOT / "deploy" / "tools" / "debian-nginx.sh"
# Seed 000's SecurityHeadersMiddleware, with the values docs/security.md gives (X-XSS-Protection: 0, see the
# config's comment).
SECURITY_HEADERS = {
    "Strict-Transport-Security": '"max-age=31536000; includeSubDomains"',
    "X-Content-Type-Options": '"nosniff"',
    "X-Frame-Options": '"DENY"',
    "Referrer-Policy": '"no-referrer"',
    "Content-Security-Policy": "$content_security_policy",
    "Permissions-Policy": '"geolocation=(), microphone=(), camera=()"',
    "X-XSS-Protection": '"0"',
}


def _blocks(text: str, keyword: str) -> list[str]:
    """The bodies of every `keyword ... { ... }` block (nested braces included)."""
    bodies = []
    for match in re.finditer(rf"(^|\s){keyword}\b[^{{;]*\{{", text):
        depth, start = 1, match.end()
        for position in range(start, len(text)):
            depth += {"{": 1, "}": -1}.get(text[position], 0)
            if depth == 0:
                bodies.append(text[start:position])
                break
    return bodies


def _without_comments(text: str) -> str:
    return re.sub(r"#[^\n]*", "", text)


def _header_problems(server: str, locations: list[str]) -> list[str]:
    problems = []
    # add_header in a location replaces every add_header of the server for it: the headers would vanish there.
    if any("add_header" in location for location in locations):
        problems.append("add_header inside a location drops the server's security headers there")
    for header, value in SECURITY_HEADERS.items():
        if not re.search(rf"add_header\s+{re.escape(header)}\s+{re.escape(value)}\s+always;", server):
            problems.append(f"{header}: not added as {value} on every answer (always)")
    for header in (
        "Strict-Transport-Security",
        "X-Content-Type-Options",
        "X-Frame-Options",
        "Referrer-Policy",
    ):
        if not re.search(rf"proxy_hide_header\s+{header};", server):
            problems.append(f"{header}: the API's copy is not hidden, answers would carry it twice")
    return problems


def _routing_problems(server: str, locations: list[str]) -> list[str]:
    problems = []
    if any("proxy_pass" in location and "limit_req " not in location for location in locations):
        problems.append("a proxied location has no limit_req")
    if not re.search(r"limit_conn\s+\w+\s+\d+;", server):
        problems.append("no connection limit per client")
    for name, value in (("X-Forwarded-For", "$proxy_add_x_forwarded_for"), ("X-Forwarded-Proto", "$scheme")):
        if not re.search(rf"proxy_set_header\s+{name}\s+{re.escape(value)};", server):
            problems.append(f"proxy_set_header {name} {value} is missing: the API needs it")
    if not re.search(r"location\s*=\s*/metrics\s*\{\s*return\s+404;", server):
        problems.append("/metrics is served to the outside")
    return problems


def nginx_problems(text: str) -> list[str]:
    servers = _blocks(_without_comments(text), "server")
    tls = [server for server in servers if re.search(r"listen\s+443\s+ssl", server)]
    if len(tls) != 1:
        return ["there must be one server listening on 443 with TLS"]
    locations = _blocks(tls[0], "location")
    problems = [*_header_problems(tls[0], locations), *_routing_problems(tls[0], locations)]
    plain = [server for server in servers if re.search(r"listen\s+80\b", server)]
    if not plain or "return 301 https://" not in plain[0]:
        problems.append("plain http is not redirected to https")
    return problems


def test_the_front_carries_the_headers_and_limits() -> None:
    assert nginx_problems(NGINX_CONF.read_text()) == []


@pytest.mark.parametrize(
    ("old", "new", "problem"),
    [
        (
            'add_header X-Frame-Options "DENY" always;',
            'add_header X-Frame-Options "DENY";',
            "X-Frame-Options",
        ),
        (
            'add_header Permissions-Policy "geolocation=(), microphone=(), camera=()" always;',
            "",
            "Permissions",
        ),
        ("proxy_hide_header X-Frame-Options;", "", "carry it twice"),
        (
            "            proxy_pass $api_upstream;\n        }\n\n        location / {",
            '            proxy_pass $api_upstream;\n            add_header X-Auth "1";\n        }\n\n        location / {',
            "add_header inside a location",
        ),
        ("limit_req zone=auth_per_client burst=20 nodelay;", "", "no limit_req"),
        ("limit_conn connections_per_client 10;", "", "connection limit"),
        ("proxy_set_header X-Forwarded-Proto $scheme;", "", "X-Forwarded-Proto"),
        (
            "location = /metrics {\n            return 404;",
            "location = /metrics-off {\n            return 404;",
            "/metrics",
        ),
        ("return 301 https://$host$request_uri;", "proxy_pass $api_upstream;", "redirected to https"),
    ],
)
def test_a_broken_front_is_caught(old: str, new: str, problem: str) -> None:
    text = NGINX_CONF.read_text()
    assert old in text
    problems = nginx_problems(text.replace(old, new, 1))
    assert any(problem in found for found in problems), problems


# --- nginx -t --------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def nginx() -> Path:
    fetched = subprocess.run(["bash", str(FETCH)], capture_output=True, text=True, timeout=300)
    if fetched.returncode == 3:
        pytest.skip(f"no nginx binary to be had here: {fetched.stderr.strip()}")
    assert fetched.returncode == 0, f"fetching Debian's nginx failed:\n{fetched.stderr}"
    return Path(fetched.stdout.split()[-1])


@pytest.fixture(scope="module")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> Path:
    if shutil.which("openssl") is None:
        pytest.skip("openssl is not installed: the test's certificate cannot be made")
    directory = tmp_path_factory.mktemp("tls")
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=membank.test",
         "-keyout", str(directory / "tls_private_key"), "-out", str(directory / "tls_certificate")],
        check=True, capture_output=True, timeout=60,
    )  # fmt: skip
    return directory


def _nginx_test(nginx: Path, text: str, certificate: Path, workdir: Path) -> subprocess.CompletedProcess[str]:
    # The container's paths, here: the secrets mount (the certificate) and the tmpfs nginx buffers in.
    local = text.replace("/run/secrets/", f"{certificate}/").replace("/var/cache/nginx/", f"{workdir}/")
    (workdir / "nginx.conf").write_text(local)
    return subprocess.run(
        [str(nginx), "-t", "-p", str(workdir), "-c", str(workdir / "nginx.conf"), "-e", "stderr"],
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_nginx_accepts_the_config(nginx: Path, certificate: Path, tmp_path: Path) -> None:
    tested = _nginx_test(nginx, NGINX_CONF.read_text(), certificate, tmp_path)
    assert tested.returncode == 0, tested.stderr
    assert "test is successful" in tested.stderr


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        ("limit_req_status 429;", "limit_req_status 429", "limit_req_status"),  # a lost semicolon
        ("zone=auth_per_client burst=20", "zone=login_per_client burst=20", "zero size shared memory zone"),
        ("/run/secrets/tls_private_key", "/run/secrets/missing_key", "missing_key"),
    ],
)
def test_nginx_rejects_a_broken_copy(
    nginx: Path, certificate: Path, tmp_path: Path, old: str, new: str, message: str
) -> None:
    text = NGINX_CONF.read_text()
    assert old in text
    tested = _nginx_test(nginx, text.replace(old, new, 1), certificate, tmp_path)
    assert tested.returncode != 0
    assert message in tested.stderr
