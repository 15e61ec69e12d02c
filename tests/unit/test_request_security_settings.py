"""Settings of request security that are refused at start rather than misbehaving later."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from membank.config import Settings


def test_a_wildcard_origin_with_credentials_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ValidationError, match="CORS"):
        Settings(data_dir=tmp_path, cors_allowed_origins=["*"], cors_allow_credentials=True)
    Settings(data_dir=tmp_path, cors_allowed_origins=["*"])  # without credentials: allowed
    Settings(data_dir=tmp_path, cors_allowed_origins=["https://app.example"], cors_allow_credentials=True)


def test_trusted_proxies_must_be_addresses_or_cidrs(tmp_path: Path) -> None:
    with pytest.raises(ValidationError, match="trusted_proxies"):
        Settings(data_dir=tmp_path, trusted_proxies=["10.0.0.0/8", "proxy.internal"])
    assert Settings(data_dir=tmp_path, trusted_proxies=["10.0.0.1", "fd00::/8"]).trusted_proxies


def test_lists_are_read_from_the_environment_as_json(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("MEMBANK_TRUSTED_PROXIES", '["10.0.0.0/8"]')
    monkeypatch.setenv("MEMBANK_CORS_ALLOWED_ORIGINS", '["https://app.example"]')
    settings = Settings(data_dir=tmp_path)
    assert settings.trusted_proxies == ["10.0.0.0/8"]
    assert settings.cors_allowed_origins == ["https://app.example"]
