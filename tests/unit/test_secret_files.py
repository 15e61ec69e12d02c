"""Settings read from secret files (MEMBANK_SECRETS_DIR): what Compose secrets and Kubernetes Secret volumes
mount, one file per setting, named after its environment variable."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from membank.cli.errors import describe
from membank.config import Settings

SECRET = "hunter2-do-not-print"


def _secrets(directory: Path, **files: str) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    for name, value in files.items():
        (directory / name).write_text(value)
    return directory


def test_a_setting_is_read_from_its_file(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    secrets = _secrets(
        tmp_path / "secrets",
        MEMBANK_ADMIN_API_KEY=f"{SECRET}\n",  # the trailing newline of `echo` is dropped
        MEMBANK_DATABASE_URL=f"postgresql://membank:{SECRET}@postgres:5432/membank",
        membank_store="postgres",  # names match regardless of case
        postgres_password=SECRET,  # a file no setting reads (the database's own secret) is ignored
    )
    monkeypatch.setenv("MEMBANK_SECRETS_DIR", str(secrets))
    settings = Settings(data_dir=tmp_path)
    assert settings.secrets_dir == secrets
    assert settings.admin_api_key is not None and settings.admin_api_key.get_secret_value() == SECRET
    assert settings.store == "postgres"
    assert settings.database_url is not None and SECRET in settings.database_url.get_secret_value()


def test_structured_settings_are_json_in_their_file(tmp_path: Path) -> None:
    secrets = _secrets(tmp_path / "secrets", MEMBANK_TRUSTED_PROXIES='["10.0.0.0/8"]')
    assert Settings(data_dir=tmp_path, secrets_dir=secrets).trusted_proxies == ["10.0.0.0/8"]


def test_an_environment_variable_wins_over_the_file(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    secrets = _secrets(tmp_path / "secrets", MEMBANK_ADMIN_API_KEY="from-the-file")
    monkeypatch.setenv("MEMBANK_SECRETS_DIR", str(secrets))
    monkeypatch.setenv("MEMBANK_ADMIN_API_KEY", "from-the-environment")
    settings = Settings(data_dir=tmp_path)
    assert settings.admin_api_key is not None
    assert settings.admin_api_key.get_secret_value() == "from-the-environment"


def test_without_a_secrets_dir_no_file_is_read(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    _secrets(tmp_path / "secrets", MEMBANK_ADMIN_API_KEY=SECRET)
    monkeypatch.chdir(tmp_path / "secrets")
    monkeypatch.delenv("MEMBANK_SECRETS_DIR", raising=False)
    assert Settings(data_dir=tmp_path).admin_api_key is None


def test_a_kubernetes_secret_volume_is_read(tmp_path: Path) -> None:
    # The kubelet's layout: each key a symlink into ..data, itself a symlink to the current version's
    # directory (swapped atomically on rotation).
    volume = tmp_path / "secrets"
    version = _secrets(volume / "..2026_12_07_10_00_00.000000001", MEMBANK_ADMIN_API_KEY=SECRET)
    (volume / "..data").symlink_to(version.name)
    (volume / "MEMBANK_ADMIN_API_KEY").symlink_to("..data/MEMBANK_ADMIN_API_KEY")
    settings = Settings(data_dir=tmp_path, secrets_dir=volume)
    assert settings.admin_api_key is not None and settings.admin_api_key.get_secret_value() == SECRET


def test_a_missing_secrets_dir_is_refused_by_name(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("MEMBANK_SECRETS_DIR", str(tmp_path / "not-mounted"))
    with pytest.raises(ValidationError) as refused:
        Settings(data_dir=tmp_path)
    line = describe(refused.value)
    assert line.startswith("invalid settings (MEMBANK_SECRETS_DIR: ")
    assert "directory" in line


def test_a_file_in_place_of_the_directory_is_refused(tmp_path: Path) -> None:
    (tmp_path / "secrets").write_text(SECRET)
    with pytest.raises(ValidationError, match="secrets_dir"):
        Settings(data_dir=tmp_path, secrets_dir=tmp_path / "secrets")


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("MEMBANK_DATABASE_URL", f"mysql://membank:{SECRET}@db/membank"),
        ("MEMBANK_AUTH_SECRET_KEY", SECRET),
        ("MEMBANK_REDIS_URL", f"http://:{SECRET}@redis:6379/0"),
        ("MEMBANK_RATE_LIMIT_TENANT_OVERRIDES", f'{{"{SECRET}": '),
    ],
)
def test_a_refused_value_is_never_echoed(tmp_path: Path, name: str, value: str) -> None:
    secrets = _secrets(tmp_path / "secrets", MEMBANK_STORE="postgres", **{name: value})
    if name != "MEMBANK_DATABASE_URL":
        (secrets / "MEMBANK_STORE").unlink()
    with pytest.raises(Exception) as refused:  # a ValidationError, or a SettingsError for bad JSON
        Settings(data_dir=tmp_path, secrets_dir=secrets)
    assert name.removeprefix("MEMBANK_").lower() in str(refused.value).lower()
    assert SECRET not in str(refused.value)
    assert SECRET not in repr(refused.value)
    assert SECRET not in describe(refused.value)
