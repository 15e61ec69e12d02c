"""deploy/terraform: every variable has a type and a description, every output a description, every module call
passes only variables of that module and all its required ones, the tfvars examples set only declared variables
and no secret, the README lists every variable and output of the root module, and the resources keep the
promises of the README (Multi-AZ, encryption, TLS, managed passwords, private buckets). Each check is also shown
rejecting a deliberately broken module.

The HCL is read with python-hcl2. `tofu fmt -check` (OpenTofu, built from its Go module by
deploy/tools/go-tool.sh; without a Go toolchain those tests skip) checks the layout. `validate` needs the
providers, which come only from the Terraform and OpenTofu registries (not reachable here), so the arguments are
not checked against the AWS provider's schema."""

from __future__ import annotations

import re
import shutil
from pathlib import Path
from typing import Any

import hcl2
import pytest

from tests.support.go_tools import BUILD_LIMIT_SECONDS, built_tool, run_tool

ROOT = Path(__file__).resolve().parents[2] / "deploy" / "terraform"
MODULES = sorted(path for path in (ROOT / "modules").iterdir() if path.is_dir())
# Meta-arguments of a module block: Terraform's own, not the module's variables.
META_ARGUMENTS = {"source", "version", "providers", "depends_on", "count", "for_each"}
SECRET_NAME = re.compile(r"password|passwd|secret|token|api_key|access_key|private_key", re.IGNORECASE)
# An attribute that holds a secret ends with its name (`auth_token`, `secret_string`); settings about one do
# not (`auth_token_update_strategy`, `manage_master_user_password = true` is no string).
SECRET_ATTRIBUTE = re.compile(
    r"(password|passwd|secret|secret_string|token|api_key|access_key|private_key)$", re.I
)
AWS_ACCESS_KEY = re.compile(r"\b(AKIA|ASIA)[0-9A-Z]{16}\b")


def unquote(value: Any) -> Any:
    """python-hcl2 keeps the quotes of labels and string literals: `"\\"name\\""`."""
    if isinstance(value, str) and len(value) >= 2 and value[0] == value[-1] == '"':
        return value[1:-1]
    if isinstance(value, dict):
        return {
            unquote(key): unquote(item)
            for key, item in value.items()
            if key not in ("__is_block__", "__comments__")
        }
    if isinstance(value, list):
        return [unquote(item) for item in value]
    return value


def is_literal(value: Any) -> bool:
    """A string written as such, not an expression (python-hcl2 wraps expressions in ${...})."""
    return isinstance(value, str) and not value.startswith("${")


def parse(text: str) -> dict[str, Any]:
    parsed: dict[str, Any] = unquote(hcl2.loads(text))
    return parsed


def blocks(module: dict[str, Any], kind: str) -> dict[str, dict[str, Any]]:
    """`variable "x" {...}` blocks of a parsed module as {name: body}."""
    return {name: body for block in module.get(kind, []) for name, body in block.items()}


def load_module(directory: Path) -> dict[str, Any]:
    """Every .tf file of a directory merged, as Terraform reads a module."""
    merged: dict[str, list[Any]] = {}
    for path in sorted(directory.glob("*.tf")):
        for kind, items in parse(path.read_text()).items():
            merged.setdefault(kind, []).extend(items)
    return merged


def declaration_problems(module: dict[str, Any]) -> list[str]:
    problems = []
    for name, body in blocks(module, "variable").items():
        problems += [f"variable {name} has no {key}" for key in ("type", "description") if not body.get(key)]
    for name, body in blocks(module, "output").items():
        if not body.get("description"):
            problems.append(f"output {name} has no description")
    return problems


def module_call_problems(caller: dict[str, Any], caller_dir: Path) -> list[str]:
    problems = []
    for name, call in blocks(caller, "module").items():
        variables = blocks(load_module((caller_dir / call["source"]).resolve()), "variable")
        given = set(call) - META_ARGUMENTS
        problems += [
            f"module {name}: {argument} is no variable of it" for argument in sorted(given - set(variables))
        ]
        required = {variable for variable, body in variables.items() if "default" not in body}
        problems += [f"module {name}: required {variable} not given" for variable in sorted(required - given)]
    return problems


def secret_literals(value: Any, path: str = "") -> list[str]:
    """Attributes named like a secret set to a literal string, and AWS access key ids anywhere."""
    found = []
    if isinstance(value, dict):
        for key, item in value.items():
            where = f"{path}.{key}" if path else str(key)
            if SECRET_ATTRIBUTE.search(str(key)) and is_literal(item) and item:
                found.append(where)
            found += secret_literals(item, where)
    elif isinstance(value, list):
        for index, item in enumerate(value):
            found += secret_literals(item, f"{path}[{index}]")
    elif isinstance(value, str) and AWS_ACCESS_KEY.search(value):
        found.append(path)
    return found


def resources(module: dict[str, Any], kind: str) -> list[dict[str, Any]]:
    return [
        body
        for block in module.get("resource", [])
        for name, by_name in block.items()
        if name == kind
        for body in by_name.values()
    ]


ROOT_MODULE = load_module(ROOT)
TFVARS = sorted((ROOT / "environments").glob("*.tfvars"))


@pytest.mark.parametrize("directory", [ROOT, *MODULES], ids=lambda path: path.name)
def test_every_variable_has_a_type_and_a_description_and_every_output_a_description(directory: Path) -> None:
    module = load_module(directory)
    assert blocks(module, "variable"), f"{directory} declares no variable"
    assert declaration_problems(module) == []


def test_the_declaration_check_finds_what_is_missing() -> None:
    broken = parse(
        'variable "a" {\n  type = string\n}\nvariable "b" {\n  description = "b"\n}\noutput "c" {\n  value = 1\n}\n'
    )
    assert declaration_problems(broken) == [
        "variable a has no description",
        "variable b has no type",
        "output c has no description",
    ]


def test_every_module_call_passes_variables_of_that_module_and_all_required_ones() -> None:
    assert {call for call in blocks(ROOT_MODULE, "module")} == {f"{path.name}" for path in MODULES}
    assert module_call_problems(ROOT_MODULE, ROOT) == []


def test_the_module_call_check_finds_an_unknown_and_a_missing_argument() -> None:
    main = (ROOT / "main.tf").read_text()
    broken = main.replace("  single_nat_gateway = var.single_nat_gateway\n", "  nat_gateways       = 1\n", 1)
    assert broken != main
    assert module_call_problems(parse(broken), ROOT) == [
        "module network: nat_gateways is no variable of it",
        "module network: required single_nat_gateway not given",
    ]


@pytest.mark.parametrize("path", TFVARS, ids=lambda path: path.name)
def test_the_tfvars_examples_set_declared_variables_and_every_required_one(path: Path) -> None:
    declared = blocks(ROOT_MODULE, "variable")
    values = parse(path.read_text())
    assert set(values) - set(declared) == set()
    required = {name for name, body in declared.items() if "default" not in body}
    assert required - set(values) == set()


def test_no_variable_is_a_secret_and_no_file_holds_one() -> None:
    """Secrets come from AWS (RDS-managed master password, generated passwords in Secrets Manager), never from
    a variable a tfvars file would have to carry."""
    assert [name for name in blocks(ROOT_MODULE, "variable") if SECRET_NAME.search(name)] == []
    for directory in [ROOT, *MODULES]:
        module = load_module(directory)
        assert [name for name in blocks(module, "variable") if SECRET_NAME.search(name)] == [], directory
        assert secret_literals(module) == [], directory
    for path in TFVARS:
        assert secret_literals(parse(path.read_text())) == [], path


def test_the_secret_check_finds_a_literal_password_and_an_access_key() -> None:
    broken = parse(
        'resource "aws_db_instance" "db" {\n  password = "hunter22hunter22"\n  manage_master_user_password = false\n}\n'
        'resource "aws_secretsmanager_secret_version" "url" {\n  secret_string = "redis://:pw@redis:6379/0"\n}\n'
        'locals {\n  key = "AKIAABCDEFGHIJKLMNOP"\n}\n'
    )
    assert secret_literals(broken) == [
        "resource[0].aws_db_instance.db.password",
        "resource[1].aws_secretsmanager_secret_version.url.secret_string",
        "locals[0].key",
    ]
    fine = 'resource "x" "y" {\n  auth_token = random_password.token.result\n  auth_token_update_strategy = "ROTATE"\n}\n'
    assert secret_literals(parse(fine)) == []


def test_the_readme_lists_every_variable_and_output_of_the_root_module() -> None:
    readme = (ROOT / "README.md").read_text()
    for kind in ("variable", "output"):
        missing = [name for name in blocks(ROOT_MODULE, kind) if f"`{name}`" not in readme]
        assert missing == [], f"{kind}s missing from deploy/terraform/README.md"
    for directory in MODULES:
        assert f"modules/{directory.name}" in readme


def test_postgres_is_16_multi_az_encrypted_tls_only_with_a_managed_master_password() -> None:
    module = load_module(ROOT / "modules" / "postgres")
    [instance] = resources(module, "aws_db_instance")
    assert instance["engine"] == "postgres"
    assert instance["multi_az"] is True
    assert instance["storage_encrypted"] is True
    assert instance["manage_master_user_password"] is True
    assert instance["publicly_accessible"] is False
    assert "password" not in instance
    [parameters] = resources(module, "aws_db_parameter_group")
    assert parameters["family"] == "postgres16"
    assert {"name": "rds.force_ssl", "value": "1"} in parameters["parameter"]
    assert blocks(ROOT_MODULE, "variable")["postgres_engine_version"]["default"] == "16"


def test_redis_fails_over_across_zones_with_tls_and_a_generated_auth_token() -> None:
    [group] = resources(load_module(ROOT / "modules" / "redis"), "aws_elasticache_replication_group")
    for flag in (
        "automatic_failover_enabled",
        "multi_az_enabled",
        "at_rest_encryption_enabled",
        "transit_encryption_enabled",
    ):
        assert group[flag] is True, flag
    assert group["auth_token"] == "${random_password.auth_token.result}"


def test_the_backup_bucket_is_versioned_encrypted_private_and_aged() -> None:
    module = load_module(ROOT / "modules" / "backups")
    [versioning] = resources(module, "aws_s3_bucket_versioning")
    assert versioning["versioning_configuration"][0]["status"] == "Enabled"
    [public] = resources(module, "aws_s3_bucket_public_access_block")
    assert all(
        public[flag] is True
        for flag in (
            "block_public_acls",
            "block_public_policy",
            "ignore_public_acls",
            "restrict_public_buckets",
        )
    )
    [encryption] = resources(module, "aws_s3_bucket_server_side_encryption_configuration")
    assert encryption["rule"][0]["apply_server_side_encryption_by_default"][0]["sse_algorithm"] == "aws:kms"
    [lifecycle] = resources(module, "aws_s3_bucket_lifecycle_configuration")
    assert {"expiration", "transition", "noncurrent_version_expiration"} <= set(lifecycle["rule"][0])


def test_the_network_spans_three_zones_with_public_and_private_subnets() -> None:
    module = load_module(ROOT / "modules" / "network")
    zones = blocks(module, "variable")["availability_zones"]
    assert "length(var.availability_zones) == 3" in zones["validation"][0]["condition"]
    for subnet in resources(module, "aws_subnet"):
        assert subnet["for_each"] == "${local.zones}"
    assert len(resources(module, "aws_subnet")) == 2


@pytest.fixture(scope="module")
def tofu() -> Path:
    return built_tool("tofu")


@pytest.mark.timeout(BUILD_LIMIT_SECONDS + 60)
def test_every_file_is_formatted(tofu: Path) -> None:
    result = run_tool(tofu, "fmt", "-check", "-recursive", "-diff", str(ROOT))
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.timeout(BUILD_LIMIT_SECONDS + 60)
def test_the_format_check_rejects_a_misaligned_file(tofu: Path, tmp_path: Path) -> None:
    copy = tmp_path / "terraform"
    shutil.copytree(ROOT, copy)
    main = copy / "main.tf"
    aligned = '  source             = "./modules/network"'
    assert aligned in main.read_text()
    main.write_text(main.read_text().replace(aligned, '  source = "./modules/network"', 1))
    result = run_tool(tofu, "fmt", "-check", "-recursive", cwd=copy)
    assert result.returncode != 0
    # fmt -check lists the files it would change (besides warnings about the CLI configuration).
    assert [line for line in result.stdout.splitlines() if line.endswith(".tf")] == ["main.tf"]
