"""The GitHub workflows (.github/workflows, .github/actions): actionlint accepts them and rejects broken copies;
CI runs `.ci/run` (the source of truth for the tests); every action is pinned to a commit; the deploys go by
image digest, production behind its environment's reviewers, and each environment can be rolled back.

actionlint is built once from its Go module by deploy/tools/go-tool.sh (without a Go toolchain its tests skip);
it runs shellcheck on the `run:` scripts when shellcheck is on PATH (Debian's `shellcheck` package)."""

from __future__ import annotations

import re
import shutil
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.support.go_tools import BUILD_LIMIT_SECONDS, built_tool, run_tool

ROOT = Path(__file__).resolve().parents[2]
GITHUB = ROOT / ".github"
WORKFLOWS = GITHUB / "workflows"
PINNED = re.compile(r"^[\w.-]+/[\w./-]+@[0-9a-f]{40}$")


def load(path: Path) -> dict[str, Any]:
    document = yaml.safe_load(path.read_text())
    assert isinstance(document, dict), f"{path} is not a mapping"
    # YAML 1.1 (PyYAML) reads the key `on` as the boolean true.
    if True in document:
        document["on"] = document.pop(True)
    return document


def steps(workflow: dict[str, Any]) -> list[dict[str, Any]]:
    return [step for job in workflow["jobs"].values() for step in job.get("steps", [])]


def unpinned_actions(directory: Path) -> list[str]:
    """Every `uses:` of the workflows and composite actions under `directory` that is neither local nor a
    full commit SHA (a tag can be moved to other code; a SHA cannot)."""
    found = []
    for path in sorted(directory.rglob("*.yml")):
        for line_number, line in enumerate(path.read_text().splitlines(), 1):
            match = re.match(r"^\s*(?:-\s+)?uses:\s*(\S+)", line)
            if match and not match.group(1).startswith("./") and not PINNED.match(match.group(1)):
                found.append(f"{path.relative_to(directory)}:{line_number}: {match.group(1)}")
    return found


@pytest.fixture(scope="module")
def actionlint() -> Path:
    return built_tool("actionlint")


def lint(actionlint: Path, project: Path) -> tuple[int, str]:
    # -shellcheck= turns the shellcheck rule off explicitly when it is not installed, so the outcome does not
    # depend on what a PATH lookup happens to find.
    shellcheck = shutil.which("shellcheck") or ""
    result = run_tool(actionlint, "-no-color", f"-shellcheck={shellcheck}", cwd=project)
    return result.returncode, result.stdout + result.stderr


def project_copy(tmp_path: Path) -> Path:
    """The .github tree in a project of its own (actionlint finds the project root by its .git)."""
    (tmp_path / ".git").mkdir()
    shutil.copytree(GITHUB, tmp_path / ".github")
    return tmp_path


@pytest.mark.timeout(BUILD_LIMIT_SECONDS + 60)
def test_actionlint_accepts_the_workflows(actionlint: Path, tmp_path: Path) -> None:
    status, output = lint(actionlint, project_copy(tmp_path))
    assert status == 0, output


BREAKAGES = {
    "a job needing one that does not exist": (
        "ci.yml",
        "needs: [test, image, chart]",
        "needs: [test, image, charts]",
        'needs job "charts" which does not exist',
    ),
    "an input the reusable workflow does not declare": (
        "deploy.yml",
        "DIGEST: ${{ inputs.digest }}",
        "DIGEST: ${{ inputs.image_digest }}",
        'property "image_digest" is not defined',
    ),
    "a misspelt job key": ("rollback.yml", "    runs-on: ubuntu-24.04", "    run-on: ubuntu-24.04", "run-on"),
    "a composite action input that is not declared": (
        "deploy.yml",
        "role-arn: ${{ vars.AWS_DEPLOY_ROLE_ARN }}",
        "role: ${{ vars.AWS_DEPLOY_ROLE_ARN }}",
        'input "role" is not defined in action',
    ),
}


@pytest.mark.timeout(BUILD_LIMIT_SECONDS + 60)
@pytest.mark.parametrize("breakage", sorted(BREAKAGES))
def test_actionlint_rejects_a_broken_workflow(actionlint: Path, tmp_path: Path, breakage: str) -> None:
    name, good, bad, message = BREAKAGES[breakage]
    project = project_copy(tmp_path)
    workflow = project / ".github" / "workflows" / name
    text = workflow.read_text()
    assert good in text, f"{name} no longer contains {good!r}: update the breakage"
    workflow.write_text(text.replace(good, bad, 1))
    status, output = lint(actionlint, project)
    assert status != 0, f"actionlint accepted {breakage}"
    assert message in output, output


@pytest.mark.timeout(BUILD_LIMIT_SECONDS + 60)
def test_actionlint_runs_shellcheck_on_run_scripts(actionlint: Path, tmp_path: Path) -> None:
    if shutil.which("shellcheck") is None:
        pytest.skip(
            "shellcheck is not installed (Debian: apt-get install shellcheck), so actionlint skips it"
        )
    project = project_copy(tmp_path)
    workflow = project / ".github" / "workflows" / "rollback.yml"
    text = workflow.read_text()
    quoted = '--namespace "$NAMESPACE" --wait'
    assert quoted in text
    workflow.write_text(text.replace(quoted, "--namespace $NAMESPACE --wait", 1))
    status, output = lint(actionlint, project)
    assert status != 0 and "SC2086" in output, output


def test_ci_runs_the_test_command_of_ci_run_on_pushes_and_pull_requests() -> None:
    ci = load(WORKFLOWS / "ci.yml")
    assert {"push", "pull_request"} <= set(ci["on"])
    test_steps = ci["jobs"]["test"]["steps"]
    assert "bash .ci/run" in [step.get("run") for step in test_steps]
    python = [step for step in test_steps if str(step.get("uses", "")).startswith("actions/setup-python@")]
    assert [step["with"]["python-version"] for step in python] == ["3.11"]
    assert "./.github/actions/tool-cache" in [step.get("uses") for step in test_steps]
    tool_cache = load(GITHUB / "actions" / "tool-cache" / "action.yml")["runs"]["steps"]
    cached = [step["with"]["path"] for step in tool_cache if step["uses"].startswith("actions/cache@")]
    assert cached == ["~/.cache/membank"]


def test_every_action_is_pinned_to_a_commit() -> None:
    assert unpinned_actions(GITHUB) == []


def test_the_pin_check_finds_a_tag(tmp_path: Path) -> None:
    shutil.copytree(GITHUB, tmp_path / ".github")
    action = tmp_path / ".github" / "actions" / "tool-cache" / "action.yml"
    text = action.read_text()
    action.write_text(
        text.replace("actions/setup-go@44694675825211faa026b3c33043df3e48a5fa00", "actions/setup-go@v6")
    )
    assert [found.split(": ")[1] for found in unpinned_actions(tmp_path / ".github")] == [
        "actions/setup-go@v6"
    ]


def test_staging_deploys_main_and_production_deploys_tags_by_digest() -> None:
    jobs = load(WORKFLOWS / "ci.yml")["jobs"]
    for job, environment, condition in (
        ("deploy-staging", "staging", "github.ref == 'refs/heads/main'"),
        ("deploy-production", "production", "startsWith(github.ref, 'refs/tags/v')"),
    ):
        deploy = jobs[job]
        assert deploy["uses"] == "./.github/workflows/deploy.yml"
        assert deploy["with"]["environment"] == environment
        assert deploy["with"]["digest"] == "${{ needs.image.outputs.digest }}"
        assert condition in deploy["if"]
        assert set(deploy["needs"]) == {"test", "image", "chart"}
    image_steps = {step.get("id"): step for step in jobs["image"]["steps"]}
    assert jobs["image"]["outputs"]["digest"] == "${{ steps.push.outputs.digest }}"
    assert image_steps["push"]["with"]["sbom"] is True


def test_the_image_is_scanned_for_critical_vulnerabilities_before_it_is_pushed() -> None:
    image_steps = load(WORKFLOWS / "ci.yml")["jobs"]["image"]["steps"]
    uses = [str(step.get("uses", "")).split("@")[0] for step in image_steps]
    scan = uses.index("aquasecurity/trivy-action")
    assert image_steps[scan]["with"]["severity"] == "CRITICAL"
    assert image_steps[scan]["with"]["exit-code"] == "1"
    assert (
        uses.index("anchore/sbom-action")
        < scan
        < max(i for i, name in enumerate(uses) if "build-push" in name)
    )


def test_deploy_and_rollback_run_in_the_environment_with_its_protection() -> None:
    deploy = load(WORKFLOWS / "deploy.yml")["jobs"]["deploy"]
    rollback = load(WORKFLOWS / "rollback.yml")
    assert deploy["environment"]["name"] == "${{ inputs.environment }}"
    script = next(step["run"] for step in deploy["steps"] if "helm upgrade" in step.get("name", ""))
    for flag in ("upgrade --install", "--rollback-on-failure", "--wait", 'image.digest="$DIGEST"'):
        assert flag in script
    assert rollback["on"]["workflow_dispatch"]["inputs"]["environment"]["options"] == [
        "staging",
        "production",
    ]
    job = rollback["jobs"]["rollback"]
    assert job["environment"]["name"] == "${{ inputs.environment }}"
    assert job["concurrency"]["group"] == deploy["concurrency"]["group"]
    assert any("helm rollback" in step.get("run", "") for step in job["steps"])


def test_workflows_grant_only_read_access_by_default() -> None:
    for path in sorted(WORKFLOWS.glob("*.yml")):
        assert load(path)["permissions"] == {"contents": "read"}, path.name
