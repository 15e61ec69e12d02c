"""deploy/compose: the stacks against the compose-spec schema (check-jsonschema's vendored copy, offline), and the
invariants that matter: every MEMBANK_* variable is a setting, every long-running service has a health check,
depends_on waits on conditions, images are pinned, no secret is a literal, the files the stacks mount exist
(Prometheus's rules, Grafana's provisioning and dashboard), and make-secrets.sh makes every secret file, which
MemBank's settings then accept as each service mounts them. Each check is also shown failing on a broken copy."""

from __future__ import annotations

import copy
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from pydantic import SecretStr

from membank.config import Settings
from tests.support.go_tools import BUILD_LIMIT_SECONDS, built_tool, run_tool
from tests.support.settings_env import SETTINGS_ENV_NAMES

ROOT = Path(__file__).resolve().parents[2]
COMPOSE_DIR = ROOT / "deploy" / "compose"
STACKS = ("dev.yaml", "prod.yaml")
OVERRIDES = {"staging.yaml": "prod.yaml"}
MAKE_SECRETS = COMPOSE_DIR / "make-secrets.sh"
MEMBANK_IMAGE = "membank"
# Settings whose values are secrets (SecretStr): only ever from a secret file, never in `environment:`.
SECRET_SETTINGS = frozenset(
    f"MEMBANK_{name.upper()}"
    for name, field in Settings.model_fields.items()
    if "SecretStr" in str(field.annotation) or field.annotation is SecretStr
)
SECRET_LOOKING_NAME = re.compile(r"PASSWORD|SECRET|TOKEN|API_KEY|PRIVATE_KEY|CREDENTIAL", re.IGNORECASE)
URL_WITH_PASSWORD = re.compile(r"://[^/\s:@]*:[^/\s@]+@")


def load(name: str) -> dict[str, Any]:
    document = yaml.safe_load((COMPOSE_DIR / name).read_text())
    assert isinstance(document, dict)
    return document


def interpolate(value: str) -> str:
    """Compose's ${VAR:-default} / ${VAR-default} with the defaults (the variables unset), and $$ as $."""
    value = re.sub(r"\$\{\w+:?-([^}]*)\}", r"\1", value)
    return value.replace("$$", "$")


def merged(base: dict[str, Any], override: dict[str, Any]) -> dict[str, Any]:
    """An override file over its base: mappings merge key by key, anything else is replaced."""
    result = copy.deepcopy(base)
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(result.get(key), dict):
            result[key] = merged(result[key], value)
        else:
            result[key] = copy.deepcopy(value)
    return result


def environment(service: dict[str, Any]) -> dict[str, str]:
    env = service.get("environment") or {}
    if isinstance(env, list):
        env = dict(item.split("=", 1) if "=" in item else (item, "") for item in env)
    return {str(name): "" if value is None else str(value) for name, value in env.items()}


def is_one_shot(service: dict[str, Any]) -> bool:
    """A service that runs to its end (the migration): it says so with restart "no"; any other is long-running."""
    return service.get("restart") == "no"


def is_membank(service: dict[str, Any]) -> bool:
    return interpolate(str(service.get("image", ""))).split(":")[0].endswith(MEMBANK_IMAGE)


def service_secrets(service: dict[str, Any]) -> list[tuple[str, str]]:
    """(source, target under /run/secrets) of each secret the service mounts."""
    mounted = []
    for entry in service.get("secrets") or []:
        if isinstance(entry, str):
            mounted.append((entry, entry))
        else:
            mounted.append((entry["source"], entry.get("target", entry["source"])))
    return mounted


def bind_mounts(service: dict[str, Any]) -> Iterator[tuple[str, str]]:
    """(source on the host, target in the container) of each bind mount (named volumes left out)."""
    for volume in service.get("volumes") or []:
        source, target = (
            (volume["source"], volume["target"]) if isinstance(volume, dict) else volume.split(":")[:2]
        )
        if source.startswith((".", "/")):
            yield source, target


# --- the checks ------------------------------------------------------------------------------------------


def _settings_problems(name: str, service: dict[str, Any]) -> list[str]:
    problems = []
    env = environment(service)
    for variable, value in env.items():
        if variable.startswith("MEMBANK_") and variable not in SETTINGS_ENV_NAMES:
            problems.append(f"{name}: {variable} is no setting of MemBank (a typo would be silently ignored)")
        if variable in SECRET_SETTINGS:
            problems.append(f"{name}: {variable} is a secret: mount it as a secret file, not an env value")
        # MemBank's own names are known exactly (above); another image's are judged by their name.
        elif (
            not variable.startswith("MEMBANK_")
            and SECRET_LOOKING_NAME.search(variable)
            and not variable.endswith("_FILE")
        ):
            problems.append(f"{name}: {variable} looks like a secret written as a literal")
        if URL_WITH_PASSWORD.search(value):
            problems.append(f"{name}: {variable} holds a URL with a password")
    for argument in service.get("command") or []:
        if re.search(r"requirepass|--password|(^|\s)-a\s", str(argument)):
            problems.append(f"{name}: its command line carries a password ({argument})")
    targets = [target for _, target in service_secrets(service)]
    for target in targets:
        if target.startswith("MEMBANK_") and target not in SETTINGS_ENV_NAMES:
            problems.append(f"{name}: secret file {target} is no setting of MemBank")
    if any(t.startswith("MEMBANK_") for t in targets) and env.get("MEMBANK_SECRETS_DIR") != "/run/secrets":
        problems.append(f"{name}: mounts MEMBANK_* secret files but MEMBANK_SECRETS_DIR is not /run/secrets")
    return problems


def _health_problems(name: str, service: dict[str, Any], services: dict[str, Any]) -> list[str]:
    problems = []
    healthcheck = service.get("healthcheck") or {}
    if not is_one_shot(service) and (healthcheck.get("disable") or not healthcheck.get("test")):
        problems.append(f"{name}: a long-running service without a health check")
    depends_on = service.get("depends_on") or {}
    if isinstance(depends_on, list):
        return [*problems, f"{name}: depends_on must name a condition for each service"]
    for dependency, spec in depends_on.items():
        if dependency not in services:
            problems.append(f"{name}: depends on {dependency}, which is not in the stack")
            continue
        wanted = "service_completed_successfully" if is_one_shot(services[dependency]) else "service_healthy"
        if (spec or {}).get("condition") != wanted:
            problems.append(f"{name}: depends on {dependency} with condition {wanted} (not {spec})")
    return problems


def _image_problems(name: str, service: dict[str, Any]) -> list[str]:
    image = interpolate(str(service.get("image", "")))
    _, _, tag = image.rpartition(":") if ":" in image.split("/")[-1] else (image, "", "")
    if not image:
        return [f"{name}: no image"]
    if not tag or tag == "latest" or not re.search(r"\d", tag):
        return [f"{name}: image {image} is not pinned to a version tag"]
    return []


def _file_problems(name: str, service: dict[str, Any], compose_dir: Path) -> list[str]:
    return [
        f"{name}: mounts {source}, which does not exist"
        for source, _ in bind_mounts(service)
        if not (compose_dir / source).exists()
    ]


def _secret_declaration_problems(document: dict[str, Any]) -> list[str]:
    declared = document.get("secrets") or {}
    problems = [
        f"secret {secret}: must be a file in ./secrets (not {spec})"
        for secret, spec in declared.items()
        if not str((spec or {}).get("file", "")).startswith("./secrets/")
    ]
    for name, service in (document.get("services") or {}).items():
        for source, _ in service_secrets(service):
            if source not in declared:
                problems.append(f"{name}: uses secret {source}, which is not declared")
    return problems


def _in_container(service: dict[str, Any], path: str, compose_dir: Path) -> Path | None:
    """The host file a path inside the container comes from, through the service's bind mounts."""
    for source, target in bind_mounts(service):
        if path == target or path.startswith(target.rstrip("/") + "/"):
            return compose_dir / source / path[len(target) :].lstrip("/")
    return None


def _monitoring_problems(services: dict[str, Any], compose_dir: Path) -> list[str]:
    problems: list[str] = []
    prometheus = services.get("prometheus")
    if prometheus is not None:
        config_flag = next(a for a in prometheus.get("command", []) if a.startswith("--config.file="))
        config = _in_container(prometheus, config_flag.split("=", 1)[1], compose_dir)
        if config is None or not config.is_file():
            return [f"prometheus: its --config.file ({config_flag}) is not a mounted file"]
        rule_files = yaml.safe_load(config.read_text()).get("rule_files") or []
        if not rule_files:
            problems.append("prometheus: loads no rule file (deploy/prometheus/alerts.yml)")
        for rule_file in rule_files:
            host = _in_container(prometheus, rule_file, compose_dir)
            if host is None or not host.is_file():
                problems.append(f"prometheus: rule file {rule_file} is not a mounted file")
    grafana = services.get("grafana")
    if grafana is not None:
        provisioning = _in_container(grafana, "/etc/grafana/provisioning", compose_dir)
        if provisioning is None or not (provisioning / "datasources").is_dir():
            return [*problems, "grafana: /etc/grafana/provisioning/datasources is not mounted"]
        for provider_file in sorted((provisioning / "dashboards").glob("*.yaml")):
            for provider in yaml.safe_load(provider_file.read_text())["providers"]:
                folder = provider["options"]["path"]
                dashboards = [
                    host
                    for source, target in bind_mounts(grafana)
                    if target.startswith(folder.rstrip("/") + "/")
                    and target.endswith(".json")
                    and (host := compose_dir / source).is_file()
                ]
                if not dashboards:
                    problems.append(f"grafana: no dashboard file is mounted in {folder}")
    return problems


def compose_problems(document: dict[str, Any], compose_dir: Path = COMPOSE_DIR) -> list[str]:
    """What is wrong with a Compose document against MemBank's invariants (empty: nothing)."""
    services: dict[str, Any] = document.get("services") or {}
    problems = []
    for name, service in services.items():
        problems += _settings_problems(name, service)
        problems += _health_problems(name, service, services)
        problems += _image_problems(name, service)
        problems += _file_problems(name, service, compose_dir)
    return [*problems, *_secret_declaration_problems(document), *_monitoring_problems(services, compose_dir)]


def every_stack() -> Iterator[tuple[str, dict[str, Any]]]:
    for name in STACKS:
        yield name, load(name)
    for name, base in OVERRIDES.items():
        yield f"{base} + {name}", merged(load(base), load(name))


@pytest.mark.parametrize(
    ("name", "document"), list(every_stack()), ids=lambda v: v if isinstance(v, str) else ""
)
def test_the_stacks_hold_their_invariants(name: str, document: dict[str, Any]) -> None:
    assert compose_problems(document) == []


def _prod() -> dict[str, Any]:
    return load("prod.yaml")


def _broken(change: Any) -> dict[str, Any]:
    document = _prod()
    change(document["services"], document)
    return document


BREAKAGES = {
    "unknown setting": (
        lambda s, d: s["api"]["environment"].update(MEMBANK_WORKER_METRIC_PORT="9100"),
        "MEMBANK_WORKER_METRIC_PORT is no setting",
    ),
    "secret setting in env": (
        lambda s, d: s["worker"]["environment"].update(MEMBANK_DATABASE_URL="postgresql://postgres/membank"),
        "MEMBANK_DATABASE_URL is a secret",
    ),
    "password literal": (
        lambda s, d: s["postgres"]["environment"].update(POSTGRES_PASSWORD="hunter2"),
        "POSTGRES_PASSWORD looks like a secret",
    ),
    "URL with a password": (
        lambda s, d: s["grafana"]["environment"].update(
            GF_DATABASE_URL="postgres://grafana:hunter2@db/grafana"
        ),
        "holds a URL with a password",
    ),
    "password on a command line": (
        lambda s, d: s["redis"].update(command=["redis-server", "--requirepass", "hunter2"]),
        "command line carries a password",
    ),
    "secret file of no setting": (
        lambda s, d: s["api"]["secrets"].append(
            {"source": "membank_admin_api_key", "target": "MEMBANK_ADMIN_KEY"}
        ),
        "secret file MEMBANK_ADMIN_KEY",
    ),
    "secrets dir not set": (
        lambda s, d: s["migrate"]["environment"].pop("MEMBANK_SECRETS_DIR"),
        "MEMBANK_SECRETS_DIR is not /run/secrets",
    ),
    "undeclared secret": (
        lambda s, d: d["secrets"].pop("membank_redis_url"),
        "uses secret membank_redis_url",
    ),
    "secret from the environment": (
        lambda s, d: d["secrets"].update(membank_admin_api_key={"environment": "ADMIN_KEY"}),
        "must be a file in ./secrets",
    ),
    "no health check": (lambda s, d: s["qdrant"].pop("healthcheck"), "qdrant: a long-running service"),
    "health check disabled": (
        lambda s, d: s["redis"].update(healthcheck={"disable": True}),
        "redis: a long-running service",
    ),
    "depends_on as a list": (
        lambda s, d: s["nginx"].update(depends_on=["api"]),
        "depends_on must name a condition",
    ),
    "started is not healthy": (
        lambda s, d: s["api"]["depends_on"].update(postgres={"condition": "service_started"}),
        "api: depends on postgres with condition service_healthy",
    ),
    "one-shot waited on as healthy": (
        lambda s, d: s["worker"]["depends_on"].update(migrate={"condition": "service_healthy"}),
        "worker: depends on migrate with condition service_completed_successfully",
    ),
    "latest image": (lambda s, d: s["redis"].update(image="redis:latest"), "redis:latest is not pinned"),
    "untagged image": (lambda s, d: s["qdrant"].update(image="qdrant/qdrant"), "qdrant/qdrant is not pinned"),
    "floating tag": (lambda s, d: s["nginx"].update(image="nginx:alpine"), "nginx:alpine is not pinned"),
    "untagged default": (
        lambda s, d: s["api"].update(image="${MEMBANK_IMAGE:-membank}"),
        "membank is not pinned",
    ),
    "missing mount": (
        lambda s, d: s["nginx"]["volumes"].__setitem__(0, "./nginx/missing.conf:/etc/nginx/nginx.conf:ro"),
        "mounts ./nginx/missing.conf",
    ),
    "rules not mounted": (
        lambda s, d: s["prometheus"]["volumes"].pop(1),
        "rule file /etc/prometheus/rules/alerts.yml",
    ),
    "dashboard not mounted": (lambda s, d: s["grafana"]["volumes"].pop(1), "no dashboard file is mounted"),
    "provisioning not mounted": (lambda s, d: s["grafana"]["volumes"].pop(0), "provisioning/datasources"),
}


@pytest.mark.parametrize("breakage", list(BREAKAGES))
def test_a_broken_stack_is_caught(breakage: str) -> None:
    change, expected = BREAKAGES[breakage]
    problems = compose_problems(_broken(change))
    assert any(expected in problem for problem in problems), problems


def test_the_api_trusts_exactly_the_front_as_its_proxy() -> None:
    services = _prod()["services"]
    front = services["nginx"]["networks"]["frontend"]["ipv4_address"]
    assert yaml.safe_load(environment(services["api"])["MEMBANK_TRUSTED_PROXIES"]) == [front]
    subnet = _prod()["networks"]["frontend"]["ipam"]["config"][0]["subnet"]
    import ipaddress

    assert ipaddress.ip_address(front) in ipaddress.ip_network(subnet)


def test_the_scale_out_stack_runs_two_apis_and_two_workers_after_the_migration() -> None:
    services = _prod()["services"]
    assert services["api"]["command"] == ["serve", "--no-workers"]
    assert services["worker"]["command"] == ["worker"]
    assert services["migrate"]["command"] == ["migrate"]
    assert services["api"]["deploy"]["replicas"] == services["worker"]["deploy"]["replicas"] == 2
    assert all(is_membank(services[name]) for name in ("api", "worker", "migrate"))
    # The worker's health check asks the metrics port it was told to serve.
    port = environment(services["worker"])["MEMBANK_WORKER_METRICS_PORT"]
    assert f":{port}/metrics" in " ".join(services["worker"]["healthcheck"]["test"])


# --- the compose-spec schema -----------------------------------------------------------------------------


def _check_jsonschema(*files: Path) -> subprocess.CompletedProcess[str]:
    tool = shutil.which("check-jsonschema", path=str(Path(sys.executable).parent)) or shutil.which(
        "check-jsonschema"
    )
    if tool is None:
        pytest.skip("check-jsonschema is not installed (PyPI, in the dev extra: pip install -e '.[dev]')")
    return subprocess.run(
        [tool, "--builtin-schema", "vendor.compose-spec", *map(str, files)],
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_the_compose_files_follow_the_compose_spec() -> None:
    checked = _check_jsonschema(*(COMPOSE_DIR / name for name in (*STACKS, *OVERRIDES)))
    assert checked.returncode == 0, checked.stdout + checked.stderr


@pytest.mark.parametrize(
    ("old", "new"),
    [
        ("condition: service_completed_successfully", "condition: service_finished"),
        ("  postgres:\n    image:", "  postgres:\n    imgae:"),  # a misspelt key
        ("  postgres_password:\n    file:", "  postgres_password:\n    path:"),
    ],
)
def test_the_schema_rejects_a_broken_copy(tmp_path: Path, old: str, new: str) -> None:
    text = (COMPOSE_DIR / "prod.yaml").read_text()
    assert old in text
    broken = tmp_path / "prod.yaml"
    broken.write_text(text.replace(old, new, 1))
    checked = _check_jsonschema(broken)
    assert checked.returncode != 0
    assert "prod.yaml" in checked.stdout + checked.stderr


# --- Prometheus's configuration --------------------------------------------------------------------------


def test_the_prometheus_config_scrapes_both_jobs_the_rules_name() -> None:
    config = yaml.safe_load((COMPOSE_DIR / "prometheus" / "prometheus.yml").read_text())
    jobs = {job["job_name"]: job for job in config["scrape_configs"]}
    # alerts.yml keys the API-down alert on job="membank" and the worker alerts on membank-worker.
    alerts = (ROOT / "deploy" / "prometheus" / "alerts.yml").read_text()
    assert 'job="membank"' in alerts and "membank-worker" in alerts
    worker_port = int(environment(_prod()["services"]["worker"])["MEMBANK_WORKER_METRICS_PORT"])
    assert jobs["membank"]["dns_sd_configs"] == [{"names": ["api"], "type": "A", "port": 8080}]
    assert jobs["membank-worker"]["dns_sd_configs"] == [
        {"names": ["worker"], "type": "A", "port": worker_port}
    ]


@pytest.mark.timeout(BUILD_LIMIT_SECONDS + 300)
def test_promtool_accepts_the_prometheus_config(tmp_path: Path) -> None:
    promtool = built_tool("promtool")
    # The rule file as the container sees it, from the file the stack mounts there.
    config = (COMPOSE_DIR / "prometheus" / "prometheus.yml").read_text()
    local = config.replace(
        "/etc/prometheus/rules/alerts.yml", str(ROOT / "deploy" / "prometheus" / "alerts.yml")
    )
    (tmp_path / "prometheus.yml").write_text(local)
    checked = run_tool(promtool, "check", "config", str(tmp_path / "prometheus.yml"))
    assert checked.returncode == 0, checked.stdout + checked.stderr
    (tmp_path / "broken.yml").write_text(local.replace("type: A", "type: AAAAA", 1))
    assert run_tool(promtool, "check", "config", str(tmp_path / "broken.yml")).returncode != 0


# --- secrets: make-secrets.sh and the settings that read them -------------------------------------------


@pytest.fixture(scope="module")
def made_secrets(tmp_path_factory: pytest.TempPathFactory) -> Path:
    if shutil.which("openssl") is None:
        pytest.skip("openssl is not installed: make-secrets.sh needs it")
    directory = tmp_path_factory.mktemp("compose") / "secrets"
    made = subprocess.run(
        ["bash", str(MAKE_SECRETS), str(directory), "--self-signed", "membank.example"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert made.returncode == 0, made.stderr
    return directory


def test_make_secrets_makes_every_secret_file_the_stack_mounts(made_secrets: Path) -> None:
    for secret, spec in _prod()["secrets"].items():
        path = made_secrets / Path(spec["file"]).name
        assert path.is_file() and path.stat().st_size > 0, secret
        assert path.stat().st_mode & 0o777 == 0o444  # every server reads it under its own UID
    assert made_secrets.stat().st_mode & 0o777 == 0o700  # which is why nobody else may enter


def test_make_secrets_never_overwrites(made_secrets: Path) -> None:
    before = {path.name: path.read_bytes() for path in made_secrets.iterdir()}
    again = subprocess.run(["bash", str(MAKE_SECRETS), str(made_secrets)], capture_output=True, text=True)
    assert again.returncode == 0 and "made" not in again.stderr
    assert {path.name: path.read_bytes() for path in made_secrets.iterdir()} == before


def test_the_servers_and_membank_share_each_password(made_secrets: Path) -> None:
    def read(name: str) -> str:
        return (made_secrets / name).read_text().strip()

    assert (
        read("membank_database_url")
        == f"postgresql://membank:{read('postgres_password')}@postgres:5432/membank"
    )
    assert read("redis.conf") == f"requirepass {read('redis_password')}"
    assert read("membank_redis_url") == f"redis://:{read('redis_password')}@redis:6379/0"
    assert yaml.safe_load(read("qdrant.yaml")) == {"service": {"api_key": read("membank_qdrant_api_key")}}


@pytest.mark.parametrize("service_name", ["migrate", "api", "worker"])
def test_membank_accepts_the_settings_each_service_gets(
    made_secrets: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, service_name: str
) -> None:
    document = _prod()
    service = document["services"][service_name]
    # /run/secrets as Compose lays it out for this service: each secret under its target name.
    run_secrets = tmp_path / "run-secrets"
    run_secrets.mkdir()
    for source, target in service_secrets(service):
        shutil.copy(made_secrets / Path(document["secrets"][source]["file"]).name, run_secrets / target)
    for variable in SETTINGS_ENV_NAMES:
        monkeypatch.delenv(variable, raising=False)
    for variable, value in environment(service).items():
        monkeypatch.setenv(variable, value)
    monkeypatch.setenv("MEMBANK_SECRETS_DIR", str(run_secrets))
    monkeypatch.setenv("MEMBANK_DATA_DIR", str(tmp_path / "data"))

    settings = Settings()
    assert settings.store == "postgres" and settings.vector_index == "qdrant"
    assert settings.database_url is not None
    assert settings.qdrant_api_key is not None
    if service_name != "migrate":
        assert settings.redis_url is not None and settings.auth_secret_key is not None
    assert (settings.admin_api_key is not None) == (service_name == "api")
