"""docs/operations.md: every alert of deploy/prometheus/alerts.yml has its section (an alert added without a
runbook fails here), and every `membank ...` command the runbooks name, with its subcommand and options, exists
in the CLI; both checks are shown finding a deliberately broken text. README.md links the runbooks."""

from __future__ import annotations

import re
from pathlib import Path

import click
import yaml

from membank.cli.main import cli

ROOT = Path(__file__).resolve().parents[2]
OPERATIONS = ROOT / "docs" / "operations.md"
ALERTS = ROOT / "deploy" / "prometheus" / "alerts.yml"
# `membank <command> [<subcommand>] [options]` where a command line starts: in a code span or block, at a line's
# start, or after a shell separator or `exec ... --` (so "the namespace membank" in prose is no command).
INVOCATION = re.compile(r"(?:^|`|\$ |-- |&& |; |\| )membank((?: +[\w.=/,:-]+)*)", re.MULTILINE)


def alert_names() -> list[str]:
    rules = yaml.safe_load(ALERTS.read_text())
    return [rule["alert"] for group in rules["groups"] for rule in group["rules"] if "alert" in rule]


def alerts_without_a_section(names: list[str], markdown: str) -> list[str]:
    headings = " ".join(re.findall(r"^#{2,4} (.+)$", markdown, re.MULTILINE))
    return [name for name in names if not re.search(rf"\b{name}\b", headings)]


def code_text(markdown: str) -> str:
    """The code of a Markdown text: fenced blocks and inline spans, one per line (where commands are)."""
    blocks = re.findall(r"^```[^\n]*\n(.*?)^```", markdown, re.MULTILINE | re.DOTALL)
    prose = re.sub(r"^```[^\n]*\n.*?^```", "", markdown, flags=re.MULTILINE | re.DOTALL)
    spans = re.findall(r"`([^`\n]+)`", prose.replace("\n", " "))
    return "\n".join([*blocks, *spans])


def unknown_invocations(markdown: str, group: click.Group = cli) -> list[str]:
    """The `membank ...` invocations in the code of `markdown` that the CLI does not have: an unknown command or
    subcommand, or an option the command does not take."""
    unknown = []
    for match in INVOCATION.finditer(code_text(markdown)):
        words = match.group(1).split()
        command: click.Command = group
        path = ["membank"]
        while words and isinstance(command, click.Group) and not words[0].startswith("-"):
            # Arguments (`membank keys rotate KEY`) follow a command, never a group: there a word is a command.
            if words[0] not in command.commands:
                unknown.append(" ".join([*path, words[0]]))
                break
            path.append(words.pop(0))
            command = command.commands[path[-1]]
        options = {name for parameter in command.params for name in getattr(parameter, "opts", [])}
        unknown += [
            f"{' '.join(path)} {word}"
            for word in words
            if word.startswith("--") and word.split("=")[0] not in options
        ]
    return unknown


def test_every_alert_has_a_section_in_the_runbooks() -> None:
    names = alert_names()
    assert len(names) > 30
    assert alerts_without_a_section(names, OPERATIONS.read_text()) == []


def test_an_alert_without_a_section_is_found() -> None:
    markdown = OPERATIONS.read_text().replace("### MemBankApiDown\n", "### The API is down\n")
    assert alerts_without_a_section([*alert_names(), "MemBankNewAlert"], markdown) == [
        "MemBankApiDown",
        "MemBankNewAlert",
    ]


def test_every_command_the_runbooks_name_exists_in_the_cli() -> None:
    markdown = OPERATIONS.read_text()
    named = {
        match.group(1).split()[0] for match in INVOCATION.finditer(code_text(markdown)) if match.group(1)
    }
    assert {"migrate", "reindex", "check", "doctor", "keys", "auth"} <= named
    assert unknown_invocations(markdown) == []


def test_an_unknown_command_subcommand_or_option_is_found() -> None:
    markdown = (
        "Run `membank frobnicate`, then `membank keys explode KEY`, `membank check --fix`,\n"
        "```bash\nkubectl exec deploy/membank-api -- membank auth rotate-signing-key --now\n```\n"
        "but `membank keys revoke KEY` and `membank check --repair` exist; the namespace membank is no command.\n"
    )
    assert unknown_invocations(markdown) == [
        "membank auth rotate-signing-key --now",
        "membank frobnicate",
        "membank keys explode",
        "membank check --fix",
    ]


def test_the_readme_links_the_runbooks() -> None:
    assert "(docs/operations.md)" in (ROOT / "README.md").read_text()
