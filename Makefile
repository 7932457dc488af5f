# taskplane developer entry points. `make run` and `make test` are the two that matter;
# both create/refresh the single development environment in .venv first.
SHELL := /bin/bash
.DEFAULT_GOAL := help

PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

# Every installable package of the monorepo (apps/<name>/pyproject.toml, operator/).
PACKAGE_DIRS := $(patsubst %/pyproject.toml,%,$(wildcard apps/*/pyproject.toml operator/pyproject.toml))
# Importable Python packages (for mypy): <package dir>/<module>/__init__.py, tests excluded.
MODULE_DIRS := $(filter-out %/tests/,$(dir $(wildcard apps/*/*/__init__.py operator/*/__init__.py)))
MYPY_PACKAGES := $(notdir $(patsubst %/,%,$(MODULE_DIRS)))

PYTEST_ARGS ?=

.PHONY: help venv run test lint fmt pytest bench clean

help: ## list the targets
	@grep -hE '^[a-zA-Z_-]+:.*## ' $(MAKEFILE_LIST) | awk 'BEGIN {FS = ":.*## "} {printf "  %-12s %s\n", $$1, $$2}'

$(STAMP): requirements-dev.txt requirements-lock.txt $(addsuffix /pyproject.toml,$(PACKAGE_DIRS))
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet --config-settings editable_mode=compat -c requirements-lock.txt -r requirements-dev.txt $(addprefix -e ,$(PACKAGE_DIRS))
	touch $@

venv: $(STAMP) ## create or refresh .venv with every app installed in editable mode

run: $(STAMP) ## run the platform locally (embedded PostgreSQL unless DATABASE_URL is set)
	$(PY) scripts/run_local.py

lint: $(STAMP) ## ruff and mypy (strict on our packages)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy $(addprefix -p ,$(MYPY_PACKAGES))
	$(VENV)/bin/mypy scripts

pytest: $(STAMP) ## the test suite only (PYTEST_ARGS=... to narrow it)
	$(PY) -m pytest $(PYTEST_ARGS)

test: lint pytest ## the whole suite: lint, type checks, unit, integration, chart and terraform checks

fmt: $(STAMP) ## format and autofix
	$(VENV)/bin/ruff format .
	$(VENV)/bin/ruff check --fix .

bench: $(STAMP) ## benchmarks (results land in bench/results/)
	$(PY) -m bench

clean: ## remove the environment and caches (keeps .local/ data)
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache

-include k8s/kind.mk
