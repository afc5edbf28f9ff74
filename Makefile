# make demo  - create .venv if missing, install rankaudit, show the demo workspace
# make test  - create .venv if missing, install rankaudit with dev tools, lint, type-check, test
# Installs are pinned by requirements.lock (torch==2.13.0, the CPU build these machines carry).

PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
PYTEST_WORKERS ?= 2

.PHONY: demo test lint typecheck unit install system-deps fixtures lock clean

# The install also fetches plotly.js's basic bundle for the web app, checked against
# dash_app/plotly-basic.json; without it (no network) the app serves the full bundle, so a
# failed fetch does not stop the install.
$(STAMP): pyproject.toml requirements.lock dash_app/plotly-basic.json
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -c requirements.lock -e '.[dev]'
	-$(BIN)/python -m dash_app.plotly_bundle
	touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	$(BIN)/rankaudit validate --workspace fixtures/demo
	$(BIN)/rankaudit demo --workspace fixtures/demo

lint: $(STAMP)
	$(BIN)/ruff check src dash_app tests benchmarks
	$(BIN)/ruff format --check src dash_app tests benchmarks

typecheck: $(STAMP)
	$(BIN)/mypy

# The end-to-end tests drive headless Chromium (Debian packages chromium, chromium-driver).
# Installed here when missing and this runs as root; otherwise those tests are reported skipped.
system-deps:
	@if ! command -v chromium >/dev/null || ! command -v chromedriver >/dev/null; then \
		if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
			echo "installing chromium and chromium-driver"; \
			apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver >/dev/null; \
		else \
			echo "chromium/chromedriver missing and cannot install them here: browser tests will be skipped"; \
		fi; \
	fi

# One math thread per test worker: two workers on two cores, no oversubscription.
unit: $(STAMP) system-deps
	OMP_NUM_THREADS=1 MKL_NUM_THREADS=1 $(BIN)/python -m pytest -q -n $(PYTEST_WORKERS) --dist loadgroup

# mypy (one core, ~40 s) runs beside the test suite, whose two workers leave part of the two
# cores idle while browsers, servers and Ray start.
test: system-deps lint
	$(MAKE) --no-print-directory -j2 typecheck unit

# Rebuild the committed demo workspace (deterministic: the same files every time).
fixtures: $(STAMP)
	$(BIN)/rankaudit fixtures build --out fixtures/demo --force

# Refresh the lock after changing dependencies in pyproject.toml.
lock: $(STAMP)
	$(BIN)/python -m pip freeze --exclude-editable | grep -v '^-e' > requirements.lock

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache
