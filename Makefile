# taskplane developer entry points. `make run` and `make test` are the two that matter;
# both create/refresh the single development environment in .venv first.
SHELL := /bin/bash
.DEFAULT_GOAL := help

PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

# Every installable package of the monorepo (apps/<name>/pyproject.toml, operator/), the
# test support apps/testing (taskplane-testing) among them: a development dependency only,
# installed here and nowhere else (no service depends on it; .dockerignore keeps it out
# of the images).
PACKAGE_DIRS := $(patsubst %/pyproject.toml,%,$(wildcard apps/*/pyproject.toml operator/pyproject.toml))
# Importable Python packages (for mypy): <package dir>/<module>/__init__.py, tests excluded.
MODULE_DIRS := $(filter-out %/tests/,$(dir $(wildcard apps/*/*/__init__.py operator/*/__init__.py)))
MYPY_PACKAGES := $(notdir $(patsubst %/,%,$(MODULE_DIRS)))

PYTEST_ARGS ?=

.PHONY: help venv run test lint fmt pytest bench clean lambda-zip openapi console screenshots copies

help: ## list the targets
	@grep -hE '^[a-zA-Z_-]+:.*## ' $(MAKEFILE_LIST) | awk 'BEGIN {FS = ":.*## "} {printf "  %-12s %s\n", $$1, $$2}'

$(STAMP): requirements-dev.txt requirements-lock.txt $(addsuffix /pyproject.toml,$(PACKAGE_DIRS))
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet --config-settings editable_mode=compat -c requirements-lock.txt -r requirements-dev.txt $(addprefix -e ,$(PACKAGE_DIRS))
	touch $@

venv: $(STAMP) ## create or refresh .venv with every app installed in editable mode

# The web console's SPA: `npm ci` from the lockfile when it changed, then the build when a
# source changed (apps/console/console_service/build.py; nothing to do when up to date).
console: $(STAMP) ## build the web console (apps/console/web/build) if out of date
	$(PY) -m console_service.build

# jscpd, the copy/paste detector tests/structure/test_copies.py runs: `npm ci` in its own
# folder from the committed lockfile when the lockfile changed (a stamp in node_modules).
COPIES_STAMP := tools/copies/node_modules/.stamp-npm-ci

$(COPIES_STAMP): tools/copies/package-lock.json
	cd tools/copies && npm ci --no-audit --no-fund
	touch $@

copies: $(STAMP) $(COPIES_STAMP) ## the copy/paste check alone (jscpd over the production files)
	$(PY) -m pytest tests/structure/test_copies.py

# Test runs leave the committed screenshots alone; this run rewrites them (light and dark).
screenshots: $(STAMP) console ## rewrite the console's screenshots (apps/console/docs/screenshots)
	TASKPLANE_SCREENSHOTS=1 $(PY) -m pytest apps/console/tests/browser/test_accessibility.py -k photographed

run: $(STAMP) console ## run the platform locally (embedded PostgreSQL unless DATABASE_URL is set)
	$(PY) scripts/run_local.py

lint: $(STAMP) ## ruff and mypy (strict on our packages)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy $(addprefix -p ,$(MYPY_PACKAGES))
	$(VENV)/bin/mypy scripts

pytest: $(STAMP) console $(COPIES_STAMP) ## the test suite only (PYTEST_ARGS=... to narrow it)
	$(PY) -m pytest $(PYTEST_ARGS)

test: lint pytest ## the whole suite: lint, type checks, unit, integration, chart and terraform checks

fmt: $(STAMP) ## format and autofix
	$(VENV)/bin/ruff format .
	$(VENV)/bin/ruff check --fix .

openapi: $(STAMP) ## rewrite docs/api/<service>.openapi.json from the code
	$(PY) -m scripts.openapi

bench: $(STAMP) ## benchmarks (results land in bench/results/)
	$(PY) -m bench

# The notification-service's Lambda package for the python3.11 x86_64 runtime (handler
# notification_service.lambda_handler.handler): the in-repo wheels, then the service and
# its dependencies pinned by requirements-lock.txt as wheels for the runtime's glibc 2.26
# (manylinux2014 and manylinux_2_24), zipped.
LAMBDA_BUILD := build/lambda
LAMBDA_ZIP := dist/notification-lambda.zip

lambda-zip: $(STAMP) ## the notification-service Lambda zip (dist/notification-lambda.zip)
	rm -rf $(LAMBDA_BUILD) $(LAMBDA_ZIP)
	$(PY) -m pip wheel --quiet --no-deps --wheel-dir $(LAMBDA_BUILD)/wheels $(addprefix ./,$(PACKAGE_DIRS))
	$(PY) -m pip install --quiet --target $(LAMBDA_BUILD)/package \
	  --platform manylinux2014_x86_64 --platform manylinux_2_24_x86_64 --implementation cp --python-version 3.11 \
	  --only-binary=:all: --find-links $(LAMBDA_BUILD)/wheels -c requirements-lock.txt \
	  taskplane-notification-service
	mkdir -p $(dir $(LAMBDA_ZIP))
	cd $(LAMBDA_BUILD)/package && $(CURDIR)/$(PY) -m zipfile -c $(CURDIR)/$(LAMBDA_ZIP) .

clean: ## remove the environment and caches (keeps .local/ data)
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache

-include k8s/kind.mk
