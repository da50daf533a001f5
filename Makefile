# Two commands matter: `make demo` and `make test`. Everything else is what they need.
SHELL := /bin/bash
PYTHON ?= python3
UV := $(shell command -v uv 2>/dev/null || echo "$(PYTHON) -m uv")
VENV := .venv
STAMP := $(VENV)/.synced
# the compiled accelerators (Cython; each module's pure-Python path is the fallback when it is absent)
SPEEDUPS := adapters/edi/_speedups.pyx mappings/_fastmap.pyx adapters/edi/build_speedups.py
SPEEDUPS_STAMP := $(VENV)/.speedups

.PHONY: demo test up setup bench schemas clean chromium

$(STAMP): pyproject.toml uv.lock
	@command -v uv >/dev/null 2>&1 || $(PYTHON) -m uv --version >/dev/null 2>&1 || \
		$(PYTHON) -m pip install --quiet uv || $(PYTHON) -m pip install --quiet --user uv
	$(UV) sync --frozen
	@touch $(STAMP)

$(SPEEDUPS_STAMP): $(STAMP) $(SPEEDUPS)
	$(VENV)/bin/python adapters/edi/build_speedups.py
	@touch $(SPEEDUPS_STAMP)

setup: $(SPEEDUPS_STAMP)

demo: $(SPEEDUPS_STAMP)
	$(VENV)/bin/hub demo

# the report's browser test renders in Debian's headless Chromium (installed once, if missing)
chromium:
	bash scripts/install_chromium.sh

test: $(SPEEDUPS_STAMP) chromium
	$(VENV)/bin/pytest $(PYTEST_ARGS)

up: $(SPEEDUPS_STAMP)
	$(VENV)/bin/hub up

schemas: $(STAMP)
	$(VENV)/bin/python -m canonical_model.json_schemas

clean:
	rm -rf var/

bench: $(SPEEDUPS_STAMP)
	$(VENV)/bin/python bench/edi.py
	$(VENV)/bin/python bench/erp_sync.py
	$(VENV)/bin/python bench/mrp.py
	$(VENV)/bin/python bench/trace.py
	$(VENV)/bin/python bench/e2e_latency.py
