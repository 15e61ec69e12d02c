"""The two SDKs cover the same operations: the TypeScript SDK's OPERATIONS (read from its built package, which
`make test` builds first, in `make sdk-ts-test`) equals the Python SDK's, and both equal docs/openapi.json's
(each SDK's own suite checks the latter too)."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import orjson
import pytest

import membank.client as sdk

REPO = Path(__file__).resolve().parents[2]
TYPESCRIPT = REPO / "sdk" / "typescript"
PRINT_OPERATIONS = "import {OPERATIONS} from '@membank/sdk'; console.log(JSON.stringify(OPERATIONS))"


def test_the_typescript_and_python_sdks_cover_the_same_operations() -> None:
    if shutil.which("node") is None:
        pytest.skip("no node on PATH to read the TypeScript SDK")
    if not (TYPESCRIPT / "dist" / "index.js").is_file():
        pytest.skip("the TypeScript SDK is not built: `make sdk-ts-test` builds it (make test runs it first)")
    printed = subprocess.run(
        ["node", "--input-type=module", "-e", PRINT_OPERATIONS],
        cwd=TYPESCRIPT,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    typescript = {(method, path) for method, path in orjson.loads(printed.stdout)}
    python = set(sdk.OPERATIONS)
    spec_paths = orjson.loads((REPO / "docs" / "openapi.json").read_bytes())["paths"]
    spec = {(method.upper(), path) for path, item in spec_paths.items() for method in item}
    assert typescript - python == set(), "only the TypeScript SDK covers these"
    assert python - typescript == set(), "only the Python SDK covers these"
    assert python == spec
