"""Rendering the Helm chart (deploy/helm/membank) and the checks of rendered Kubernetes manifests, shared by the
chart's tests and those of the plain manifests in deploy/k8s. Each check returns the problems it finds (empty:
the manifests pass), so a test can show it rejects a deliberately broken copy."""

from __future__ import annotations

import base64
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from unittest import mock

import kubernetes_validate
import yaml
from pydantic import ValidationError
from pydantic_settings import SettingsError

from membank.config import Settings
from tests.support.settings_env import SETTINGS_ENV_NAMES

__all__ = [
    "CHART",
    "K8S_DIR",
    "KUBERNETES_VERSIONS",
    "SCHEMALESS_KINDS",
    "Document",
    "containers",
    "helm_template",
    "invariant_problems",
    "load_documents",
    "schema_problems",
    "settings_problems",
]

ROOT = Path(__file__).resolve().parents[2]
CHART = ROOT / "deploy" / "helm" / "membank"
K8S_DIR = ROOT / "deploy" / "k8s"
# The oldest Kubernetes the chart supports (its kubeVersion) and the newest kubernetes-validate ships schemas of.
KUBERNETES_VERSIONS = ("1.30.0", "1.37.0")
# Custom resources, which the Kubernetes schemas do not describe.
SCHEMALESS_KINDS = frozenset({"ServiceMonitor"})
APP_UID = 10001
# Well-formed stand-ins for the keys of the Secret the manifests reference.
SECRET_STAND_INS = {
    "database-url": "postgresql://membank:password@postgres:5432/membank",
    "redis-url": "redis://redis:6379/0",
    "admin-api-key": "mb_" + "a" * 40,
    "auth-secret-key": base64.b64encode(bytes(range(32))).decode(),
}
WORKLOADS = frozenset({"Deployment", "Job"})

Document = dict[str, Any]


def helm_template(helm: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """`helm template membank <chart> ARGS` as release `membank`, as deploy/k8s/render.sh renders it."""
    return subprocess.run(
        [str(helm), "template", "membank", str(CHART), "--namespace", "membank", *args],
        capture_output=True,
        text=True,
        timeout=120,
    )


def load_documents(text: str) -> list[Document]:
    return [document for document in yaml.safe_load_all(text) if document]


def containers(document: Document) -> Iterator[Document]:
    """The containers (init containers too) of a workload's pod template."""
    pod = document["spec"]["template"]["spec"]
    yield from pod.get("initContainers", [])
    yield from pod["containers"]


def schema_problems(documents: list[Document], version: str) -> list[str]:
    """Each object against the Kubernetes schemas of `version` in strict mode (an unknown field is an error)."""
    problems = []
    for document in documents:
        if document["kind"] in SCHEMALESS_KINDS:
            continue
        try:
            kubernetes_validate.validate(document, version, strict=True)
        except kubernetes_validate.ValidationError as error:
            path = ".".join(str(part) for part in error.path)
            problems.append(f"{_name(document)}: {path}: {error.message}")
    return problems


def invariant_problems(documents: list[Document]) -> list[str]:
    """What every rendering of the chart must hold: probes, resources, the locked-down securityContext, pinned
    images, only known MEMBANK_* settings, no secret in the manifests, and PDB, HPA and NetworkPolicy for each
    Deployment, the migration Job as a pre-install/pre-upgrade hook."""
    problems: list[str] = []
    workloads = [document for document in documents if document["kind"] in WORKLOADS]
    deployments = [document for document in workloads if document["kind"] == "Deployment"]
    if not deployments:
        problems.append("no Deployment")
    for workload in workloads:
        problems += _pod_problems(workload)
        for container in containers(workload):
            where = f"{_name(workload)} container {container['name']}"
            problems += [f"{where}: {problem}" for problem in _container_problems(workload, container)]
    problems += _settings_problems(documents)
    problems += _companion_problems(documents, deployments)
    problems += _migration_problems(workloads)
    problems += [
        f"{_name(document)}: a Secret in the manifests"
        for document in documents
        if document["kind"] == "Secret"
    ]
    return problems


def _name(document: Document) -> str:
    return f"{document['kind']}/{document['metadata']['name']}"


def _pod_problems(workload: Document) -> list[str]:
    pod = workload["spec"]["template"]["spec"]
    security = pod.get("securityContext", {})
    problems = []
    if security.get("runAsNonRoot") is not True:
        problems.append(f"{_name(workload)}: the pod's securityContext lacks runAsNonRoot: true")
    if pod.get("automountServiceAccountToken") is not False:
        problems.append(f"{_name(workload)}: mounts a service account token it never uses")
    scratch = {volume["name"] for volume in pod.get("volumes", []) if "emptyDir" in volume}
    for container in containers(workload):
        mounts = {mount["mountPath"]: mount["name"] for mount in container.get("volumeMounts", [])}
        if mounts.get("/tmp") not in scratch:
            problems.append(f"{_name(workload)} container {container['name']}: no emptyDir on /tmp")
    return problems


def _container_problems(workload: Document, container: Document) -> list[str]:
    problems = []
    if workload["kind"] == "Deployment":
        problems += [f"no {probe}" for probe in ("livenessProbe", "readinessProbe") if probe not in container]
    if container["name"] == "api":
        expected = {
            "livenessProbe": "/health/live",
            "readinessProbe": "/health/ready",
            "startupProbe": "/health/live",
        }
        for probe, path in expected.items():
            if container.get(probe, {}).get("httpGet", {}).get("path") != path:
                problems.append(f"{probe} does not ask {path}")
    resources = container.get("resources", {})
    for kind in ("requests", "limits"):
        problems += [
            f"no resources.{kind}.{name}" for name in ("cpu", "memory") if name not in resources.get(kind, {})
        ]
    problems += _security_problems(workload, container)
    problems += _image_problems(container.get("image", ""))
    return problems


def _security_problems(workload: Document, container: Document) -> list[str]:
    security = container.get("securityContext", {})
    pod_security = workload["spec"]["template"]["spec"].get("securityContext", {})
    problems = []
    if security.get("runAsNonRoot") is not True:
        problems.append("securityContext.runAsNonRoot is not true")
    if security.get("runAsUser", pod_security.get("runAsUser")) != APP_UID:
        problems.append(f"securityContext.runAsUser is not the image's user {APP_UID}")
    if security.get("readOnlyRootFilesystem") is not True:
        problems.append("securityContext.readOnlyRootFilesystem is not true")
    if security.get("allowPrivilegeEscalation") is not False:
        problems.append("securityContext.allowPrivilegeEscalation is not false")
    if "ALL" not in security.get("capabilities", {}).get("drop", []):
        problems.append("securityContext.capabilities.drop lacks ALL")
    if security.get("capabilities", {}).get("add"):
        problems.append("securityContext.capabilities.add is not empty")
    seccomp = security.get("seccompProfile", pod_security.get("seccompProfile", {}))
    if seccomp.get("type") != "RuntimeDefault":
        problems.append("seccompProfile is not RuntimeDefault")
    return problems


def _image_problems(image: str) -> list[str]:
    if "@sha256:" in image:
        return []
    name, _, tag = image.rpartition(":")
    if not name or "/" in tag:
        return [f"image {image!r} has no tag"]
    if tag == "latest":
        return [f"image {image!r} is `latest`"]
    return []


def _settings_problems(documents: list[Document]) -> list[str]:
    """Every MEMBANK_* name the manifests set (ConfigMap keys, env) is one the settings read."""
    named: list[tuple[str, str]] = []
    for document in documents:
        if document["kind"] == "ConfigMap":
            named += [(_name(document), key) for key in document.get("data", {})]
        elif document["kind"] in WORKLOADS:
            for container in containers(document):
                named += [(_name(document), variable["name"]) for variable in container.get("env", [])]
    return [
        f"{where}: {name} is no setting of MemBank"
        for where, name in named
        if name.startswith("MEMBANK_") and name not in SETTINGS_ENV_NAMES
    ]


def _selects(selector: Document, labels: dict[str, str]) -> bool:
    """A label selector (matchLabels and matchExpressions with In) matches these labels."""
    if any(labels.get(key) != value for key, value in selector.get("matchLabels", {}).items()):
        return False
    return all(
        expression["operator"] == "In" and labels.get(expression["key"]) in expression["values"]
        for expression in selector.get("matchExpressions", [])
    )


def _companion_problems(documents: list[Document], deployments: list[Document]) -> list[str]:
    """Each Deployment has a PDB and a NetworkPolicy selecting its pods, and an HPA scaling it."""
    problems = []
    by_kind: dict[str, list[Document]] = {}
    for document in documents:
        by_kind.setdefault(document["kind"], []).append(document)
    for deployment in deployments:
        labels = deployment["spec"]["template"]["metadata"]["labels"]
        name = deployment["metadata"]["name"]
        if not any(
            _selects(pdb["spec"]["selector"], labels) for pdb in by_kind.get("PodDisruptionBudget", [])
        ):
            problems.append(f"{_name(deployment)}: no PodDisruptionBudget")
        if not any(
            hpa["spec"]["scaleTargetRef"]["name"] == name
            for hpa in by_kind.get("HorizontalPodAutoscaler", [])
        ):
            problems.append(f"{_name(deployment)}: no HorizontalPodAutoscaler")
        policies = [
            policy
            for policy in by_kind.get("NetworkPolicy", [])
            if _selects(policy["spec"]["podSelector"], labels)
            and "Ingress" in policy["spec"].get("policyTypes", [])
        ]
        if not policies:
            problems.append(f"{_name(deployment)}: no NetworkPolicy restricting its ingress")
        if labels.get("app.kubernetes.io/component") == "worker" and any(
            p["spec"].get("ingress") for p in policies
        ):
            problems.append(f"{_name(deployment)}: a NetworkPolicy lets connections in to the workers")
    return problems


def _migration_problems(workloads: list[Document]) -> list[str]:
    jobs = [
        job
        for job in workloads
        if job["kind"] == "Job" and "migrate" in job["spec"]["template"]["spec"]["containers"][0]["args"]
    ]
    if len(jobs) != 1:
        return [f"{len(jobs)} migration Jobs, expected 1"]
    annotations = jobs[0]["metadata"].get("annotations", {})
    hooks = set(annotations.get("helm.sh/hook", "").split(","))
    if not {"pre-install", "pre-upgrade"} <= hooks:
        return [f"{_name(jobs[0])}: not a pre-install and pre-upgrade hook (helm.sh/hook: {sorted(hooks)})"]
    return []


def settings_problems(documents: list[Document]) -> list[str]:
    """Each container's settings (ConfigMap, env, the required Secret keys by stand-ins) as MemBank reads them
    at start: a list not written as JSON, a bad value or a store without its URL would stop the pods."""
    config_maps = {d["metadata"]["name"]: d.get("data", {}) for d in documents if d["kind"] == "ConfigMap"}
    outside = {name: value for name, value in os.environ.items() if not name.startswith("MEMBANK_")}
    problems = []
    for workload in (document for document in documents if document["kind"] in WORKLOADS):
        for container in containers(workload):
            env: dict[str, str] = {}
            for source in container.get("envFrom", []):
                env.update(config_maps.get(source["configMapRef"]["name"], {}))
            for variable in container.get("env", []):
                reference = variable.get("valueFrom", {}).get("secretKeyRef", {})
                if "value" in variable:
                    env[variable["name"]] = variable["value"]
                elif reference.get("key") in SECRET_STAND_INS:
                    env[variable["name"]] = SECRET_STAND_INS[reference["key"]]
            with mock.patch.dict(os.environ, {**outside, **env}, clear=True):
                refused = _refusal()
            if refused:
                problems.append(
                    f"{_name(workload)} container {container['name']}: settings refused: {refused}"
                )
    return problems


def _refusal() -> str:
    """Why Settings refuses the environment as it is now ("" when it accepts it)."""
    try:
        Settings()
    except ValidationError as error:
        return ", ".join(".".join(map(str, e["loc"])) or e["msg"] for e in error.errors())
    except SettingsError as error:  # a value that does not parse, e.g. a list not written as JSON
        return str(error)
    return ""
