"""The Helm chart (deploy/helm/membank): `helm lint` and `helm template` pass for the default and the production
values, both renderings are valid Kubernetes objects and hold the invariants of tests/deploy/manifests.py, and
the templates refuse values that would break a deployment (a `latest` image, the embedded stores, a secret or
an unknown name in `config`)."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest
import yaml

from tests.deploy.manifests import (
    CHART,
    KUBERNETES_VERSIONS,
    Document,
    helm_template,
    invariant_problems,
    load_documents,
    schema_problems,
    settings_problems,
)
from tests.support.go_tools import BUILD_LIMIT_SECONDS, built_tool, run_tool

# Whichever test comes first may build helm (module fixture; pytest orders by the rendering parameter).
pytestmark = pytest.mark.timeout(BUILD_LIMIT_SECONDS + 60)

PRODUCTION = str(CHART / "values-production.yaml")
VALUES = {"default": (), "production": ("--values", PRODUCTION)}


@pytest.fixture(scope="module")
def helm() -> Path:
    return built_tool("helm")


@pytest.fixture(scope="module", params=sorted(VALUES))
def rendering(request: pytest.FixtureRequest, helm: Path) -> list[Document]:
    rendered = helm_template(helm, *VALUES[request.param])
    assert rendered.returncode == 0, rendered.stderr
    return load_documents(rendered.stdout)


def _by_name(documents: list[Document], kind: str, name: str) -> Document:
    (found,) = (d for d in documents if d["kind"] == kind and d["metadata"]["name"] == name)
    return found


@pytest.mark.parametrize("values", sorted(VALUES))
def test_helm_lint_passes_strictly(helm: Path, values: str) -> None:
    linted = run_tool(helm, "lint", "--strict", str(CHART), *VALUES[values])
    assert linted.returncode == 0, linted.stdout + linted.stderr


@pytest.mark.parametrize("version", KUBERNETES_VERSIONS)
def test_rendering_is_valid_against_the_kubernetes_schemas(rendering: list[Document], version: str) -> None:
    assert schema_problems(rendering, version) == []


def test_rendering_holds_the_invariants(rendering: list[Document]) -> None:
    assert invariant_problems(rendering) == []


def test_image_tag_is_the_app_version_of_the_package(rendering: list[Document]) -> None:
    version = tomllib.loads((CHART.parents[2] / "pyproject.toml").read_text())["project"]["version"]
    chart = yaml.safe_load((CHART / "Chart.yaml").read_text())
    assert chart["appVersion"] == version
    api = _by_name(rendering, "Deployment", "membank-api")
    assert api["spec"]["template"]["spec"]["containers"][0]["image"].endswith(f":{version}")


def test_api_and_workers_are_separate_deployments(rendering: list[Document]) -> None:
    api = _by_name(rendering, "Deployment", "membank-api")["spec"]["template"]["spec"]["containers"][0]
    worker = _by_name(rendering, "Deployment", "membank-worker")["spec"]["template"]["spec"]["containers"][0]
    assert api["args"] == ["serve", "--no-workers"]
    assert worker["args"] == ["worker"]
    env = {variable["name"]: variable for variable in worker["env"]}
    assert env["MEMBANK_WORKER_METRICS_PORT"]["value"] == str(worker["ports"][0]["containerPort"])


def test_secret_settings_come_from_the_existing_secret(rendering: list[Document]) -> None:
    api = _by_name(rendering, "Deployment", "membank-api")["spec"]["template"]["spec"]["containers"][0]
    references = {
        variable["name"]: variable["valueFrom"]["secretKeyRef"]
        for variable in api["env"]
        if "valueFrom" in variable
    }
    required = {
        "MEMBANK_DATABASE_URL",
        "MEMBANK_REDIS_URL",
        "MEMBANK_ADMIN_API_KEY",
        "MEMBANK_AUTH_SECRET_KEY",
    }
    assert required <= set(references)
    assert {reference["name"] for reference in references.values()} == {"membank-secrets"}
    assert not any(references[name].get("optional") for name in required)


def test_production_scales_workers_on_the_queue_depth(helm: Path) -> None:
    rendered = helm_template(helm, "--values", PRODUCTION)
    assert rendered.returncode == 0, rendered.stderr
    documents = load_documents(rendered.stdout)
    metrics = _by_name(documents, "HorizontalPodAutoscaler", "membank-worker")["spec"]["metrics"]
    (external,) = (metric["external"] for metric in metrics if metric["type"] == "External")
    assert external["metric"]["name"] == "membank_jobs_queued"
    assert external["metric"]["selector"]["matchLabels"] == {"service": "membank-api"}
    kinds = {document["kind"] for document in documents}
    assert {"Ingress", "ServiceMonitor"} <= kinds
    ingress = _by_name(documents, "Ingress", "membank")["spec"]
    assert ingress["tls"][0]["hosts"] == [ingress["rules"][0]["host"]]
    # /metrics and /health answer without auth: never routed from outside.
    assert [path["path"] for path in ingress["rules"][0]["http"]["paths"]] == ["/api", "/.well-known"]


@pytest.mark.parametrize(
    ("setting", "refusal"),
    [
        ("image.tag=latest", "`latest` is refused"),
        ("config.MEMBANK_STORE=sqlite", "MEMBANK_STORE must be postgres"),
        ("config.MEMBANK_VECTOR_INDEX=qdrant-edge", "MEMBANK_VECTOR_INDEX must be pgvector or qdrant"),
        ("config.MEMBANK_DATABASE_URL=postgresql://u:p@db/membank", "a secret setting"),
        ("config.MEMBANK_PORT=9000", "the chart sets it"),
        ("config.LOG_LEVEL=DEBUG", "only MEMBANK_* settings"),
        ("secrets.existingSecret=", "secrets.existingSecret"),
        ("ingress.enabled=true", "ingress.host"),
    ],
)
def test_templates_refuse_values_that_break_a_deployment(helm: Path, setting: str, refusal: str) -> None:
    rendered = helm_template(helm, "--set", setting)
    assert rendered.returncode != 0, f"--set {setting} rendered"
    assert refusal in rendered.stderr


def test_every_container_starts_with_settings_membank_accepts(rendering: list[Document]) -> None:
    assert settings_problems(rendering) == []
