# chimeqda tasks. `make demo` and `make test` install everything first.
.PHONY: setup demo test test-sqlite test-postgres lint bench docs embeddings clean

VENV := .venv
BIN := $(VENV)/bin
# The interpreter `make lint` uses: the project's venv, or PYTHON=/path/to/python.
PYTHON ?= $(firstword $(wildcard $(BIN)/python) python3)

setup:
	@bash scripts/setup.sh

demo: setup
	$(BIN)/chimeqda demo $(if $(OUT),--out $(OUT),)

test: setup
	@bash scripts/test.sh

test-sqlite: setup
	$(BIN)/python -m pytest -q

# ruff (rules in pyproject.toml) on everything, mypy on the layers that hold the data.
# Needs the dev extra (`make setup`); it does not install anything itself.
lint:
	$(PYTHON) -m ruff check src tests benchmarks
	$(PYTHON) -m mypy

bench: setup
	$(BIN)/python benchmarks/run_all.py

docs: setup
	$(BIN)/python -m chimeqda.docs_cli > docs/cli.md

# Precomputed e5 embeddings of the built-in codebook (after editing it or its bank).
embeddings: setup
	$(BIN)/python -c "from chimeqda.coders.similarity import write_shipped; print(*write_shipped(), sep='\n')"

clean:
	rm -rf $(VENV) chimeqda-demo*
