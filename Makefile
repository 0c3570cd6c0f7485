# Spotify Wrapped at any time — `make help` lists the targets.
SHELL := /bin/bash
.DEFAULT_GOAL := help

VENV      := .venv
PY        := $(VENV)/bin/python
PYTHON311 ?= $(shell command -v python3.11 || command -v python3)
STAMP     := $(VENV)/.installed
PG_BIN    := /usr/lib/postgresql/15/bin
APT_PACKAGES := openjdk-17-jre-headless postgresql-15

# Demo size (override: make demo USERS=10 DAYS=90)
USERS ?= 3
DAYS  ?= 365
SEED  ?= 42

.PHONY: help setup system-deps postgres postgres-stop postgres-status migrate generate load demo test

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-16s %s\n", $$1, $$2}'

system-deps: ## check Java 17 and the PostgreSQL server (installs them with apt-get as root)
	@missing=""; \
	java -version 2>&1 | grep -q 'version "17' || missing="$$missing openjdk-17-jre-headless"; \
	test -x $(PG_BIN)/initdb || missing="$$missing postgresql-15"; \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	    echo "installing:$$missing"; apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing; \
	  else \
	    echo "missing:$$missing — install with: sudo apt-get install -y$$missing" >&2; exit 1; \
	  fi; \
	fi

$(STAMP): pyproject.toml constraints.txt
	@$(PYTHON311) -c 'import sys; assert sys.version_info[:2] == (3, 11), "Python 3.11 is required (soda-core needs distutils; PySpark 4.3 needs >= 3.11)"'
	test -x $(PY) || $(PYTHON311) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip setuptools wheel
	$(PY) -m pip install -q -c constraints.txt -e '.[dev]'
	$(PY) -m pip check
	touch $(STAMP)

setup: system-deps $(STAMP) ## create .venv (Python 3.11) with every dependency, pinned by constraints.txt

postgres: setup ## start the source, main and replica clusters (idempotent) and migrate them
	$(PY) -m warehouse.cli postgres start

postgres-stop: setup ## stop this project's clusters (data kept)
	$(PY) -m warehouse.cli postgres stop

postgres-status: setup ## show whether each cluster runs
	$(PY) -m warehouse.cli postgres status

migrate: setup ## apply pending schema migrations
	$(PY) -m warehouse.cli migrate

generate: setup ## generate listening into source (USERS, DAYS, SEED)
	$(PY) -m warehouse.cli generate --users $(USERS) --days $(DAYS) --seed $(SEED)

load: setup ## load source into main's star schema (incremental, idempotent)
	$(PY) -m warehouse.cli load-main

demo: postgres ## the whole pipeline on generated listening
	$(PY) -m warehouse.cli generate --users $(USERS) --days $(DAYS) --seed $(SEED)
	$(PY) -m warehouse.cli load-main
	$(PY) -m warehouse.cli summary

test: setup ## run the test suite (starts its own servers on free ports)
	$(PY) -m pytest
