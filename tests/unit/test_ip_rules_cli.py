"""`membank ip-rules add|list|remove`, for a tenant or --global."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from membank.cli.main import cli
from membank.config import Settings
from membank.storage.sql.store import SqlRecordStore


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    env = {"MEMBANK_DATA_DIR": str(tmp_path / "data")}
    store = SqlRecordStore.sqlite(Settings(data_dir=tmp_path / "data").sqlite_path)
    store.migrate()
    store.keys.ensure_tenant("acme")
    store.close()
    return env


def _run(env: dict[str, str], *args: str, code: int = 0) -> str:
    result = CliRunner().invoke(cli, ["ip-rules", *args], env=env)
    assert result.exit_code == code, result.output
    return result.stdout.strip() if code == 0 else result.output.strip().splitlines()[-1]


def test_add_list_and_remove_a_tenant_rule(env: dict[str, str]) -> None:
    rule_id = _run(env, "add", "10.1.2.3/8", "--action", "allow", "--note", "office", "--tenant", "acme")
    assert rule_id.startswith("ipr_")
    assert _run(env, "list", "--tenant", "acme") == f"{rule_id}\tallow\t10.0.0.0/8\toffice"
    assert _run(env, "list", "--global") == ""
    assert "not found" in _run(env, "remove", rule_id, "--global", code=1)
    assert _run(env, "remove", rule_id, "--tenant", "acme") == rule_id
    assert _run(env, "list", "--tenant", "acme") == ""


def test_global_rules(env: dict[str, str]) -> None:
    rule_id = _run(env, "add", "2001:db8::/32", "--action", "deny", "--global")
    assert _run(env, "list", "--global").startswith(f"{rule_id}\tdeny\t2001:db8::/32")


def test_the_scope_and_the_cidr_are_checked(env: dict[str, str]) -> None:
    assert "--tenant NAME or --global" in _run(env, "add", "10.0.0.0/8", "--action", "deny", code=2)
    assert "--tenant NAME or --global" in _run(env, "list", "--global", "--tenant", "acme", code=2)
    assert "no tenant named" in _run(env, "list", "--tenant", "nobody", code=1)
    assert "cidr" in _run(env, "add", "10.0.0.0/33", "--action", "deny", "--global", code=1)
