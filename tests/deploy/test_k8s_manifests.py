"""The plain manifests of deploy/k8s: they are what deploy/k8s/render.sh renders from the chart now, they are
valid Kubernetes objects and hold the invariants; and each check rejects a copy broken in the way it guards
against."""

from __future__ import annotations

import copy
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.deploy.manifests import (
    K8S_DIR,
    KUBERNETES_VERSIONS,
    SCHEMALESS_KINDS,
    Document,
    containers,
    invariant_problems,
    load_documents,
    schema_problems,
    settings_problems,
)
from tests.support.go_tools import BUILD_LIMIT_SECONDS, built_tool

RENDERED_FILES = ("membank.yaml", "migrate-job.yaml")


def _committed() -> list[Document]:
    return [document for name in RENDERED_FILES for document in load_documents((K8S_DIR / name).read_text())]


@pytest.mark.timeout(BUILD_LIMIT_SECONDS + 60)
def test_committed_manifests_are_a_fresh_rendering_of_the_chart(tmp_path: Path) -> None:
    built_tool("helm")  # skips without Go; render.sh then finds it built
    rendered = subprocess.run(
        ["bash", str(K8S_DIR / "render.sh"), str(tmp_path)], capture_output=True, text=True, timeout=120
    )
    assert rendered.returncode == 0, rendered.stderr
    for name in RENDERED_FILES:
        assert (K8S_DIR / name).read_text() == (tmp_path / name).read_text(), (
            f"deploy/k8s/{name} is stale: run deploy/k8s/render.sh"
        )


@pytest.mark.parametrize("version", KUBERNETES_VERSIONS)
def test_committed_manifests_are_valid_against_the_kubernetes_schemas(version: str) -> None:
    documents = _committed()
    assert schema_problems(documents, version) == []
    # Only the custom resources go unchecked, and only those known to be there.
    assert {d["kind"] for d in documents} & SCHEMALESS_KINDS == {"ServiceMonitor"}


def test_committed_manifests_hold_the_invariants() -> None:
    documents = _committed()
    kinds = {document["kind"] for document in documents}
    assert {
        "Deployment",
        "Job",
        "Service",
        "Ingress",
        "HorizontalPodAutoscaler",
        "PodDisruptionBudget",
    } <= kinds
    assert {"NetworkPolicy", "ServiceAccount", "ConfigMap"} <= kinds
    assert invariant_problems(documents) == []


def test_committed_manifests_carry_settings_membank_accepts() -> None:
    assert settings_problems(_committed()) == []


def test_settings_check_rejects_a_list_not_written_as_json() -> None:
    documents = copy.deepcopy(_committed())
    next(d for d in documents if d["kind"] == "ConfigMap")["data"]["MEMBANK_TRUSTED_PROXIES"] = "10.0.0.0/8"
    problems = settings_problems(documents)
    assert any('field "trusted_proxies"' in problem for problem in problems), problems


def test_schema_check_rejects_an_unknown_field_and_a_wrong_type() -> None:
    documents = _committed()
    broken = copy.deepcopy(documents)
    api = _deployment(broken, "api")
    container = api["spec"]["template"]["spec"]["containers"][0]
    container["livenesProbe"] = container.pop("livenessProbe")
    # One error per object is reported: the wrong type goes into another object.
    (autoscaler, *_) = (d for d in broken if d["kind"] == "HorizontalPodAutoscaler")
    autoscaler["spec"]["minReplicas"] = "two"
    problems = schema_problems(broken, KUBERNETES_VERSIONS[0])
    assert any("livenesProbe" in problem for problem in problems), problems
    assert any("minReplicas: 'two' is not of type 'integer'" in problem for problem in problems), problems


def _deployment(documents: list[Document], component: str) -> Document:
    (found,) = (
        d
        for d in documents
        if d["kind"] == "Deployment" and d["metadata"]["labels"]["app.kubernetes.io/component"] == component
    )
    return found


def _container(component: str) -> Callable[[list[Document]], Document]:
    return lambda documents: next(containers(_deployment(documents, component)))


def _migration(documents: list[Document]) -> Document:
    (job,) = (d for d in documents if d["kind"] == "Job")
    return job


def _drop_kind(kind: str) -> Callable[[list[Document]], None]:
    def drop(documents: list[Document]) -> None:
        documents[:] = [d for d in documents if d["kind"] != kind]

    return drop


api, worker = _container("api"), _container("worker")

BREAKAGES: dict[str, tuple[Callable[[list[Document]], object], str]] = {
    "api without liveness probe": (lambda d: api(d).pop("livenessProbe"), "no livenessProbe"),
    "worker without readiness probe": (lambda d: worker(d).pop("readinessProbe"), "no readinessProbe"),
    "api readiness on the liveness path": (
        lambda d: api(d)["readinessProbe"]["httpGet"].update(path="/health/live"),
        "readinessProbe does not ask /health/ready",
    ),
    "api without startup probe": (lambda d: api(d).pop("startupProbe"), "startupProbe does not ask"),
    "worker without memory limit": (
        lambda d: worker(d)["resources"]["limits"].pop("memory"),
        "limits.memory",
    ),
    "migration without requests": (
        lambda d: next(containers(_migration(d))).pop("resources"),
        "requests.cpu",
    ),
    "api as root": (lambda d: api(d)["securityContext"].update(runAsNonRoot=False), "runAsNonRoot"),
    "api as another user": (lambda d: api(d)["securityContext"].update(runAsUser=0), "runAsUser"),
    "pod without runAsNonRoot": (
        lambda d: _deployment(d, "worker")["spec"]["template"]["spec"]["securityContext"].pop("runAsNonRoot"),
        "the pod's securityContext lacks runAsNonRoot",
    ),
    "writable root filesystem": (
        lambda d: worker(d)["securityContext"].update(readOnlyRootFilesystem=False),
        "readOnlyRootFilesystem",
    ),
    "privilege escalation": (
        lambda d: api(d)["securityContext"].update(allowPrivilegeEscalation=True),
        "allowPrivilegeEscalation",
    ),
    "capabilities kept": (
        lambda d: api(d)["securityContext"]["capabilities"].update(drop=[]),
        "drop lacks ALL",
    ),
    "capability added": (
        lambda d: api(d)["securityContext"]["capabilities"].update(add=["NET_ADMIN"]),
        "capabilities.add",
    ),
    "no seccomp profile": (
        lambda d: [
            api(d)["securityContext"].pop("seccompProfile"),
            _deployment(d, "api")["spec"]["template"]["spec"]["securityContext"].pop("seccompProfile"),
        ],
        "seccompProfile",
    ),
    "no /tmp volume": (lambda d: api(d).pop("volumeMounts"), "no emptyDir on /tmp"),
    "latest image": (lambda d: api(d).update(image="ghcr.io/membank/membank:latest"), "is `latest`"),
    "untagged image": (lambda d: worker(d).update(image="ghcr.io/membank/membank"), "has no tag"),
    "unknown setting in env": (
        lambda d: worker(d)["env"].append({"name": "MEMBANK_DATABSE_URL", "value": "x"}),
        "MEMBANK_DATABSE_URL is no setting",
    ),
    "unknown setting in the ConfigMap": (
        lambda d: next(c for c in d if c["kind"] == "ConfigMap")["data"].update(MEMBANK_LOGLEVEL="INFO"),
        "MEMBANK_LOGLEVEL is no setting",
    ),
    "no PodDisruptionBudget": (_drop_kind("PodDisruptionBudget"), "no PodDisruptionBudget"),
    "no HorizontalPodAutoscaler": (_drop_kind("HorizontalPodAutoscaler"), "no HorizontalPodAutoscaler"),
    "no NetworkPolicy": (_drop_kind("NetworkPolicy"), "no NetworkPolicy"),
    "workers open to connections": (
        lambda d: next(
            p for p in d if p["kind"] == "NetworkPolicy" and p["metadata"]["name"].endswith("-jobs")
        )["spec"].update(ingress=[{}]),
        "lets connections in to the workers",
    ),
    "migration not a hook": (
        lambda d: _migration(d)["metadata"]["annotations"].pop("helm.sh/hook"),
        "not a pre-install and pre-upgrade hook",
    ),
    "no migration Job": (_drop_kind("Job"), "0 migration Jobs"),
    "a Secret in the manifests": (
        lambda d: d.append({"kind": "Secret", "metadata": {"name": "membank"}, "data": {}}),
        "a Secret in the manifests",
    ),
}


@pytest.mark.parametrize("breakage", sorted(BREAKAGES))
def test_invariants_reject_a_broken_rendering(breakage: str) -> None:
    documents = copy.deepcopy(_committed())
    breaking, expected = BREAKAGES[breakage]
    breaking(documents)
    problems = invariant_problems(documents)
    assert any(expected in problem for problem in problems), problems
