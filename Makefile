# Two commands matter: `make demo` and `make test`. Everything else is what they need.
SHELL := /bin/bash
PYTHON ?= python3
UV := $(shell command -v uv 2>/dev/null || echo "$(PYTHON) -m uv")
VENV := .venv
STAMP := $(VENV)/.synced

.PHONY: demo test up setup bench schemas clean

$(STAMP): pyproject.toml uv.lock
	@command -v uv >/dev/null 2>&1 || $(PYTHON) -m uv --version >/dev/null 2>&1 || \
		$(PYTHON) -m pip install --quiet uv || $(PYTHON) -m pip install --quiet --user uv
	$(UV) sync --frozen
	@touch $(STAMP)

setup: $(STAMP)

demo: $(STAMP)
	$(VENV)/bin/hub demo

test: $(STAMP)
	$(VENV)/bin/pytest $(PYTEST_ARGS)

up: $(STAMP)
	$(VENV)/bin/hub up

schemas: $(STAMP)
	$(VENV)/bin/python -m canonical_model.json_schemas

clean:
	rm -rf var/

bench: $(STAMP)
	$(VENV)/bin/python bench/edi.py
