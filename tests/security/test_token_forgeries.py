"""The JWT forgeries are what they claim: a verifier pinned the way the issue asks (alg EdDSA, kid known,
iss, aud, exp and nbf required) accepts the valid token and refuses every forgery, each for its own reason.
This proves the generators today, before a server verifies tokens (tests/security/test_attack_suite.py)."""

from __future__ import annotations

from typing import Any

import jwt
import pytest

from tests.security import tokens

_REQUIRED = ["iss", "aud", "sub", "tid", "sid", "iat", "nbf", "exp", "jti"]


def verify(signer: tokens.Signer, token: str) -> dict[str, Any]:
    if jwt.get_unverified_header(token).get("kid") != signer.kid:
        raise jwt.InvalidKeyError("unknown kid")
    decoded: dict[str, Any] = jwt.decode(
        token,
        signer.private_key.public_key(),
        algorithms=["EdDSA"],
        audience=tokens.AUDIENCE,
        issuer=tokens.ISSUER,
        options={"require": _REQUIRED},
    )
    return decoded


@pytest.fixture(scope="module")
def signer() -> tokens.Signer:
    return tokens.local_signer()


@pytest.fixture(scope="module")
def valid() -> dict[str, Any]:
    return tokens.claims("tenant-a", "user-1", "session-1")


def test_the_valid_token_verifies(signer: tokens.Signer, valid: dict[str, Any]) -> None:
    decoded = verify(signer, signer.sign(valid))
    assert decoded["tid"] == "tenant-a" and decoded["sid"] == "session-1"
    assert jwt.get_unverified_header(signer.sign(valid))["alg"] == "EdDSA"


@pytest.mark.parametrize("forge", tokens.FORGERIES, ids=lambda forge: forge.__name__)
def test_every_forgery_is_refused_by_a_pinned_verifier(
    signer: tokens.Signer, valid: dict[str, Any], forge: Any
) -> None:
    token = forge(signer, valid)
    with pytest.raises(jwt.PyJWTError):
        verify(signer, token)


def test_the_forgeries_fail_for_their_own_reasons(signer: tokens.Signer, valid: dict[str, Any]) -> None:
    def reason(forge: Any) -> type[Exception]:
        try:
            verify(signer, forge(signer, valid))
        except jwt.PyJWTError as exc:
            return type(exc)
        raise AssertionError(f"{forge.__name__} verified")

    assert reason(tokens.expired) is jwt.ExpiredSignatureError
    assert reason(tokens.not_yet_valid) is jwt.ImmatureSignatureError
    assert reason(tokens.wrong_audience) is jwt.InvalidAudienceError
    assert reason(tokens.wrong_issuer) is jwt.InvalidIssuerError
    assert reason(tokens.without_expiry) is jwt.MissingRequiredClaimError
    assert reason(tokens.wrong_kid) is jwt.InvalidKeyError
    assert reason(tokens.alg_none) is jwt.InvalidAlgorithmError
    assert reason(tokens.hs256_with_public_key) is jwt.InvalidAlgorithmError
    assert reason(tokens.foreign_key_same_kid) is jwt.InvalidSignatureError
    assert reason(tokens.tampered_tenant) is jwt.InvalidSignatureError
