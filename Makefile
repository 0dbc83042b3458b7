# Paperwire — the two commands first: `make run` (embedded, no servers) and `make test` (real servers).
SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

PYTHON ?= python3
UV := $(PYTHON) -m uv
RUN := $(UV) run --frozen --no-sync
INFRA := bash deploy/local/infra.sh
PYTEST_ARGS ?=

.PHONY: help tools run test test-unit lint format install proto infra-up infra-down infra-status bench bench-tools clean readme

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-14s %s\n", $$1, $$2}'

install: .venv/.installed proto ## create .venv with the locked dependencies (uv) and build generated code
	@# Bytecode ahead of time: Python reads .pyc even under PYTHONDONTWRITEBYTECODE=1 (set on many machines and
	@# images), which would otherwise recompile every module at every service start (~5 s of CPU each).
	@$(RUN) python -m compileall -q -j 0 services

.venv/.installed: pyproject.toml uv.lock
	@$(PYTHON) -m uv --version >/dev/null 2>&1 || $(PYTHON) -m pip install --quiet --disable-pip-version-check 'uv>=0.5'
	$(UV) sync --frozen --compile-bytecode
	@touch $@

proto: .venv/.installed ## generate the gRPC code from proto/ (never edited by hand)
	@mkdir -p services/paperwire
	$(RUN) python -m grpc_tools.protoc -Iproto --python_out=services --grpc_python_out=services --pyi_out=services \
	  $$(find proto -name '*.proto')

run: install ## run every service in one process on the embedded backends, serving 127.0.0.1:$${PAPERWIRE_GATEWAY_PORT:-8000}
	PAPERWIRE_LOG_FORMAT=$${PAPERWIRE_LOG_FORMAT:-console} PAPERWIRE_EMBEDDED_DATA_DIR=$${PAPERWIRE_EMBEDDED_DATA_DIR:-.paperwire/data} \
	  $(RUN) paperwire run all

tools: ## install the tools the tests use (promtool, chromium, mailpit, grpcurl, toxiproxy); idempotent
	bash deploy/local/tools.sh install

test: install tools ## start the real servers, run the whole suite against them, stop the servers
	@status=0; \
	$(INFRA) up || { $(INFRA) down; exit 1; }; \
	PAPERWIRE_REQUIRE_SERVERS=1 $(RUN) pytest $(PYTEST_ARGS) || status=$$?; \
	$(INFRA) down; \
	exit $$status

test-unit: install ## the tests that need no server (unit, contract on embedded, e2e embedded)
	$(RUN) pytest -m "not kafka and not elasticsearch and not redis" $(PYTEST_ARGS)

lint: install ## ruff (lint + format check) and mypy
	$(RUN) ruff check .
	$(RUN) ruff format --check .
	$(RUN) mypy

format: install ## apply ruff formatting and safe fixes
	$(RUN) ruff format .
	$(RUN) ruff check --fix .

infra-up: ## start real Kafka (KRaft), Elasticsearch 9 and Redis on loopback, no Docker
	$(INFRA) up

infra-down: ## stop them; leaves no process behind
	$(INFRA) down

infra-status: ## one line per server
	$(INFRA) status

bench: install ## benchmarks (see bench/README.md); needs `make infra-up` for the real-backend numbers
	$(RUN) python bench/pipeline.py --papers 100000

bench-tools: ## install vegeta (Go), the search-latency bench's load generator (deploy/local/tools.sh)
	bash deploy/local/tools.sh install vegeta

clean: ## remove the environment, generated code and server state
	-$(INFRA) down
	rm -rf .venv services/paperwire .infra .pytest_cache .mypy_cache .ruff_cache

readme: install ## regenerate the README's configuration tables from the settings classes
	$(RUN) paperwire settings --update-readme README.md
