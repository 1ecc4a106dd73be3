# llm-sidecar: two commands on a fresh machine.
#   make run   - create .venv, install, start fake providers and the sidecar on the demo policy (no keys)
#   make test  - create .venv, install with test extras, lint, type-check, run the whole suite (in 3 workers)
#   make lock  - re-pin requirements.lock (the image's runtime dependencies, with hashes) from pyproject.toml
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: run test lint typecheck unit bench lock clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

# The runtime dependencies at the versions requirements.lock pins (the versions the image ships), the test
# tools at whatever fits them. pip takes no hashes in a constraints file: the pins alone are passed.
$(STAMP): pyproject.toml requirements.lock | $(BIN)/python
	grep -oE '^[A-Za-z0-9._-]+==[^ ;]+' requirements.lock > $(VENV)/constraints.txt
	$(BIN)/pip install --quiet -c $(VENV)/constraints.txt -e '.[test]'
	touch $(STAMP)

run: $(STAMP)
	$(BIN)/llm-sidecar demo

lint: $(STAMP)
	$(BIN)/ruff check sidecar tests bench deploy
	$(BIN)/ruff format --check sidecar tests bench deploy

typecheck: $(STAMP)
	$(BIN)/mypy

# The suite in pytest-xdist workers, a whole test file per worker (a file's module-scoped servers start once),
# handed out in collection order, where tests/conftest.py puts the longest files first (not the files with
# the most tests first, xdist's default); PYTEST_WORKERS=0 runs it serially in one process (docs/development.md).
PYTEST_WORKERS ?= 3
unit: $(STAMP)
	$(BIN)/pytest -q -n $(PYTEST_WORKERS) --dist loadfile --no-loadscope-reorder

test: lint typecheck unit

bench: $(STAMP)
	$(BIN)/python bench/proxy_bench.py

# pip-compile in a throwaway venv (a tool, not a dependency): keeps the current pins where they still fit
# pyproject.toml; `make lock LOCK_FLAGS=--upgrade` moves every pin to the newest release allowed.
LOCK_FLAGS ?=
lock:
	rm -rf .lock-venv && $(PYTHON) -m venv .lock-venv
	.lock-venv/bin/pip install --quiet 'pip-tools>=7.4'
	CUSTOM_COMPILE_COMMAND='make lock' .lock-venv/bin/pip-compile --quiet --generate-hashes --strip-extras \
		--allow-unsafe --no-emit-index-url --no-emit-find-links $(LOCK_FLAGS) -o requirements.lock pyproject.toml
	rm -rf .lock-venv

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache build dist *.egg-info
