"""The client address behind trusted proxies: X-Forwarded-For counts only from a trusted peer, and then only
its right-most hop that is not itself a trusted proxy."""

from __future__ import annotations

from membank.api.client_ip import Resolved, TrustedProxies

PROXIES = TrustedProxies(["10.0.0.0/8", "fd00::/8"])


def _resolve(
    peer: str | None, forwarded: str | None = None, proto: str | None = None, scheme: str = "http"
) -> Resolved:
    headers: dict[str, str] = {}
    if forwarded is not None:
        headers["x-forwarded-for"] = forwarded
    if proto is not None:
        headers["x-forwarded-proto"] = proto
    return PROXIES.resolve(peer, headers, scheme)


def test_an_untrusted_peer_is_the_client_whatever_it_claims() -> None:
    spoofed = _resolve("203.0.113.9", "198.51.100.1", proto="https")
    assert spoofed.ip == "203.0.113.9" and not spoofed.https


def test_no_proxies_configured_means_the_header_is_never_read() -> None:
    assert TrustedProxies([]).resolve("10.1.1.1", {"x-forwarded-for": "1.2.3.4"}, "http").ip == "10.1.1.1"


def test_behind_a_trusted_proxy_the_right_most_untrusted_hop_is_the_client() -> None:
    # The client wrote "6.6.6.6" itself; the proxy appended the address it really saw.
    assert _resolve("10.0.0.5", "6.6.6.6, 203.0.113.7").ip == "203.0.113.7"


def test_a_chain_of_trusted_proxies_is_walked_from_the_right() -> None:
    assert _resolve("10.0.0.5", "6.6.6.6, 203.0.113.7, 10.2.3.4, 10.9.9.9").ip == "203.0.113.7"


def test_a_garbage_hop_stops_the_walk_at_the_last_believable_address() -> None:
    assert _resolve("10.0.0.5", "203.0.113.7, not-an-ip, 10.2.3.4").ip == "10.2.3.4"


def test_a_trusted_peer_without_the_header_is_itself_the_client() -> None:
    assert _resolve("10.0.0.5").ip == "10.0.0.5"


def test_ipv6_proxies_and_clients() -> None:
    assert _resolve("fd00::1", "2001:db8::42").ip == "2001:db8::42"


def test_https_is_believed_from_a_trusted_proxy_only() -> None:
    assert _resolve("10.0.0.5", "203.0.113.7", proto="https").https
    assert not _resolve("10.0.0.5", "203.0.113.7", proto="http").https
    assert _resolve("203.0.113.9", scheme="https").https  # direct TLS
