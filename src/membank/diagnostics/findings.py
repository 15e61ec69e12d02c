"""What a diagnosis says: one finding per check, each with a verdict, the numbers behind it and what to do."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

Verdict = Literal["ok", "warn", "fail"]
Detail = dict[str, int | float | str | bool | list[str] | None]

_RANK: dict[Verdict, int] = {"ok": 0, "warn": 1, "fail": 2}


@dataclass(frozen=True, slots=True)
class Finding:
    """One check's result: `action` says what an operator should do about it (None when it is ok)."""

    name: str
    verdict: Verdict
    detail: Detail
    action: str | None = None

    @classmethod
    def ok(cls, name: str, detail: Detail) -> Finding:
        return cls(name, "ok", detail)


def worst(verdicts: list[Verdict]) -> Verdict:
    """The most serious of the verdicts (ok for none)."""
    return max(verdicts, key=_RANK.__getitem__, default="ok")


@dataclass(frozen=True, slots=True)
class RepairAction:
    """One repair that was run: what it did and how many things it touched."""

    name: str
    detail: Detail


@dataclass(frozen=True, slots=True)
class Diagnosis:
    """Every finding of one run, in check order, and the repairs run before it (if any)."""

    at: float
    findings: list[Finding]
    repairs: list[RepairAction] = field(default_factory=list)

    @property
    def verdict(self) -> Verdict:
        return worst([finding.verdict for finding in self.findings])

    def finding(self, name: str) -> Finding:
        """The finding of the check `name` (KeyError when there is none)."""
        for finding in self.findings:
            if finding.name == name:
                return finding
        raise KeyError(name)
