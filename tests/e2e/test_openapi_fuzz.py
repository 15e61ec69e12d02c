"""Schemathesis over the whole OpenAPI document against a real server, every check on.

The run fails on any server error, any response the document does not describe (status, media type,
schema, headers), a schema-valid request refused or a schema-violating one accepted, a wrong answer to an
undocumented method or a missing key. The examples per operation are bounded so that the run takes a few
minutes on two cores; the seed makes it repeatable (change it to explore).

One check is off: `use_after_free` expects a resource to be gone after its DELETE. A DELETE without
`hard=true` invalidates a memory and keeps it and its history readable (bi-temporal memory: history is
always readable), and DELETE /api/v1/memories/{id} is the API's only DELETE, so the check's premise does
not hold anywhere here. (Turning it off for those reads alone in a schemathesis.toml `[[operations]]`
entry did not reach the stateful phase in schemathesis 4.32.) schemathesis.toml beside this file says
which answers of search and synthesize-context to schema-valid data the document cannot rule out, and why.
"""

from __future__ import annotations

import re
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.conftest import ADMIN_KEY, BIN

CONFIG = Path(__file__).with_name("schemathesis.toml")
MAX_EXAMPLES = 40
SEED = 7
# The run (3,803 cases) took 223 s on a busy 2-core machine; 1,053 s before the coverage phase was turned off
# for the operations that store JSON objects (schemathesis.toml says why). The limits only catch a hung run,
# they are not a speed target.
RUN_TIMEOUT_SECONDS = 1500
IP_RULES = "^/api/v1/ip-rules"


@pytest.mark.e2e
@pytest.mark.timeout(2 * RUN_TIMEOUT_SECONDS + 100)
def test_the_server_keeps_its_openapi_contract(launch: Callable[..., Any], tmp_path: Path) -> None:
    # Over a thousand cases with one key: the default limit (1000 a minute) would answer some with 429;
    # the negative cases without a valid key all come from one address (the per-address limit).
    server = launch(
        MEMBANK_LOG_LEVEL="WARNING",
        MEMBANK_RATE_LIMIT_PER_MINUTE="0",
        MEMBANK_RATE_LIMIT_UNAUTHENTICATED_PER_MINUTE="0",
    )
    # The IP rules go last, in a run of their own: a schema-valid rule with force=true may well shut the
    # fuzzer's own address out of its tenant, which must not leave the other operations answering 403.
    cases = _fuzz(server, tmp_path / "rest", "--exclude-path-regex", IP_RULES)
    cases += _fuzz(server, tmp_path / "ip-rules", "--include-path-regex", IP_RULES)
    print(f"schemathesis: {cases} cases")  # shown with -s; the figure the issue asks for
    assert cases >= 1000  # the runs really exercised the API


def _fuzz(server: Any, workdir: Path, *selection: str) -> int:
    """One schemathesis run over the selected operations; the number of cases it generated."""
    workdir.mkdir()
    run = subprocess.run(
        [
            str(BIN / "schemathesis"),
            "--config-file",
            str(CONFIG),
            "run",
            f"{server.url}/openapi.json",
            "--checks",
            "all",
            "--exclude-checks",
            "use_after_free",
            "--header",
            f"X-API-Key: {ADMIN_KEY}",
            "--max-examples",
            str(MAX_EXAMPLES),
            "--seed",
            str(SEED),
            # One worker: with two, hypothesis parses lambda sources with ast.parse in two threads at once,
            # and CPython 3.11.7 then fails with "SystemError: AST constructor recursion depth mismatch"
            # (python/cpython#106905), which schemathesis reports as a runtime error of the operation.
            "--workers",
            "1",
            "--no-color",
            "--report-dir",
            str(workdir / "report"),
            *selection,
        ],
        capture_output=True,
        text=True,
        timeout=RUN_TIMEOUT_SECONDS,
        cwd=workdir,
    )
    summary = run.stdout[-30_000:]
    generated = re.search(r"(\d+) generated", run.stdout)
    assert generated is not None, summary
    assert run.returncode == 0, f"{summary}\n{run.stderr[-3000:]}\nserver log:\n{server.output()[-5000:]}"
    return int(generated.group(1))
