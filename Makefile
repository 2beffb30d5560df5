# Tasks: `make demo` (set up, then ingest + verify + serve the sample captures), `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PORT ?= 8001

.PHONY: demo setup samples test test-quick lint test-tools docs

$(BIN)/archive: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[test]'
	touch $@

setup: $(BIN)/archive

samples: setup
	$(BIN)/python examples/build_samples.py

demo: samples
	$(BIN)/archive ingest examples/captures/
	$(BIN)/archive verify
	$(BIN)/archive serve --port $(PORT)

# Browser tests drive Debian's chromium through playwright (no browser download); the auditor's
# shell check in docs/provenance.md runs with the sqlite3 shell and openssl. Installing what is
# missing needs root: through sudo when not root.
SUDO := $(shell if [ "$$(id -u)" != 0 ] && command -v sudo >/dev/null; then echo sudo; fi)
MISSING = $(strip $(if $(wildcard /usr/bin/chromium),,chromium) $(if $(shell command -v sqlite3),,sqlite3) $(if $(shell command -v openssl),,openssl))
test-tools:
	@test -z "$(MISSING)" || { $(SUDO) apt-get update -qq && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq $(MISSING) >/dev/null; } || { echo "make test: the tests need Debian's $(MISSING); installing needs root (apt-get install $(MISSING))" >&2; exit 1; }

test: setup test-tools
	$(BIN)/python -m pytest -q

test-quick: setup
	$(BIN)/python -m pytest -q -m "not slow"

lint: setup
	$(BIN)/ruff check archive tests benchmarks examples
	$(BIN)/ruff format --check archive tests benchmarks examples

docs: setup
	$(BIN)/python -m archive.docs
