# Tasks: `make demo` (set up, then ingest + verify + serve the sample captures), `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PORT ?= 8001

.PHONY: demo setup samples test test-quick lint chromium docs

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

# Browser tests drive Debian's chromium through playwright (no browser download). Installing
# it needs root: through sudo when not root.
SUDO := $(shell if [ "$$(id -u)" != 0 ] && command -v sudo >/dev/null; then echo sudo; fi)
chromium:
	@test -x /usr/bin/chromium || { $(SUDO) apt-get update -qq && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq chromium >/dev/null; } || { echo "make test: the browser tests need Debian's chromium at /usr/bin/chromium; installing it needs root (apt-get install chromium)" >&2; exit 1; }

test: setup chromium
	$(BIN)/python -m pytest -q

test-quick: setup
	$(BIN)/python -m pytest -q -m "not slow"

lint: setup
	$(BIN)/ruff check archive tests benchmarks examples
	$(BIN)/ruff format --check archive tests benchmarks examples

docs: setup
	$(BIN)/python -m archive.docs
