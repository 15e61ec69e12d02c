"""The cache settings: a Redis URL is checked without being echoed, and the service starts without Redis."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from click.testing import CliRunner
from pydantic import ValidationError

from membank.bootstrap import build_shared_cache
from membank.cli.main import cli
from membank.config import Settings


def test_a_bad_redis_url_is_refused_without_echoing_it() -> None:
    result = CliRunner().invoke(cli, ["migrate"], env={"MEMBANK_REDIS_URL": "http://admin:s3cr3t-pw@cache/0"})
    assert result.exit_code == 1
    assert "MEMBANK_REDIS_URL" in result.output and "must be a Redis URL" in result.output
    assert "s3cr3t-pw" not in result.output


@pytest.mark.parametrize(
    "url", ["redis://:pw@127.0.0.1:6379/0", "rediss://u:pw@cache:6380/1", "unix:///run/r.sock"]
)
def test_redis_urls_are_accepted_and_never_shown(url: str) -> None:
    settings = Settings(redis_url=url)
    assert "pw" not in repr(settings) and "pw" not in str(settings.model_dump())


def test_without_a_redis_url_there_is_no_shared_cache(make_settings: Callable[..., Settings]) -> None:
    assert build_shared_cache(make_settings()) is None
    with pytest.raises(ValidationError):
        make_settings(redis_socket_timeout_seconds=0)
