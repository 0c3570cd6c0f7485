# Spotify Wrapped at any time — `make help` lists the targets.
SHELL := /bin/bash
.DEFAULT_GOAL := help

VENV      := .venv
PY        := $(VENV)/bin/python
PYTHON311 ?= $(shell command -v python3.11 || command -v python3)
STAMP     := $(VENV)/.installed
PG_BIN    := /usr/lib/postgresql/15/bin

# Demo size (override: make demo USERS=10 DAYS=90)
USERS ?= 3
DAYS  ?= 365
SEED  ?= 42
# The fake Spotify of `make fake-spotify` and `make demo`.
FAKE_SPOTIFY_PORT ?= 8900
FAKE_SPOTIFY_DAYS ?= 30
# `make test`: pytest-xdist workers (0: one process); a test file stays whole on one worker.
TEST_WORKERS ?= 2

.PHONY: help setup lint system-deps postgres postgres-stop postgres-status migrate generate load demo test spark spark-stop etl dashboard dashboard-stop
.PHONY: secrets fake-spotify fake-spotify-stop flask flask-stop ingest
.PHONY: import export
.PHONY: debezium debezium-stop replication-status replication-wait

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-16s %s\n", $$1, $$2}'

system-deps: ## check Java 17, the PostgreSQL server, Chromium and Jetty 9 (installs them with apt-get as root)
	@missing=""; \
	java -version 2>&1 | grep -q 'version "17' || missing="$$missing openjdk-17-jre-headless"; \
	test -x $(PG_BIN)/initdb || missing="$$missing postgresql-15"; \
	test -x /usr/bin/chromium || missing="$$missing chromium"; \
	test -f /usr/share/java/jetty9-security.jar || missing="$$missing libjetty9-java"; \
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
	$(PY) -m cdc_connectors install-connect
	touch $(STAMP)

setup: system-deps $(STAMP) ## create .venv (Python 3.11) with every dependency, pinned by constraints.txt; generate local secrets in .env
	@$(PY) -m operations secrets | grep -v 'already set' || true

postgres: setup ## start the source, main and replica clusters (idempotent) and migrate them
	$(PY) -m operations postgres start

postgres-stop: setup ## stop this project's clusters (data kept)
	$(PY) -m operations postgres stop

postgres-status: setup ## show whether each cluster runs
	$(PY) -m operations postgres status

migrate: setup ## apply pending schema migrations
	$(PY) -m warehouse migrate

generate: setup ## generate listening into source (USERS, DAYS, SEED)
	$(PY) -m fake_spotify generate --users $(USERS) --days $(DAYS) --seed $(SEED)

load: setup ## load source into main's star schema (incremental, idempotent)
	$(PY) -m star_schema load

spark: setup ## start the warm Spark engine (Spark Connect on SPARK_MASTER; with the local standalone master and worker when SPARK_MASTER is spark://127.0.0.1:7077)
	$(PY) -m operations start spark

spark-stop: setup ## stop the warm Spark engine (and the standalone master and worker)
	$(PY) -m operations stop spark

etl: setup ## gated source -> main load, then the Spark analytics job (FULL=1 rebuilds everything)
	$(PY) -m pipeline etl $(if $(FULL),--full,)

# The demo's listeners live in the fake Spotify: the login service and the ingestion talk to it.
DEMO_SPOTIFY := SPOTIFY_API_URL=http://127.0.0.1:$(FAKE_SPOTIFY_PORT)/v1 \
                SPOTIFY_ACCOUNTS_URL=http://127.0.0.1:$(FAKE_SPOTIFY_PORT) SPOTIFY_CLIENT_ID=wrapped-local
# The demo's export files, written afresh by each demo into the runtime folder (RUNTIME_DIR, from the
# environment or .env): asked of the settings once, when the demo first uses it.
DEMO_EXPORT = $(eval DEMO_EXPORT := $(shell $(PY) -c \
    'from warehouse.settings import get_settings; print(get_settings().runtime_dir / "demo-export")'))$(DEMO_EXPORT)

demo: postgres secrets ## the whole pipeline: fake Spotify logins, ingestion, export import, analytics, replica, dashboard
	$(MAKE) --no-print-directory fake-spotify FAKE_SPOTIFY_DAYS=$(DAYS)
	$(DEMO_SPOTIFY) $(MAKE) --no-print-directory flask
	$(DEMO_SPOTIFY) $(PY) -m fake_spotify login --allow-comparison
	$(DEMO_SPOTIFY) $(PY) -m ingestion poll
	@echo "-- the older history comes from each listener's Spotify data export:"
	rm -rf $(DEMO_EXPORT)
	$(PY) -m fake_spotify generate --users $(USERS) --days $(DAYS) --seed $(SEED) --no-source --extended-export $(DEMO_EXPORT) \
	    --playlists-out $(DEMO_EXPORT)/playlists.txt
	for folder in $(DEMO_EXPORT)/*/; do $(PY) -m ingestion import "$$folder" --user "$$(basename "$$folder")" --no-resolve || exit 1; done
	@echo "-- the first listener leaves a weekend out of their statistics (an exclusion rule):"
	$(PY) -m ingestion exclude add --user "$$(basename "$$(ls -d $(DEMO_EXPORT)/*/ | head -1)")" --from 2026-09-19 --to 2026-09-20
	@echo "-- each listener follows playlists (fetched from the fake Spotify by the next poll):"
	while read -r user playlist; do $(PY) -m ingestion playlists add --user "$$user" "$$playlist" || exit 1; \
	    done < $(DEMO_EXPORT)/playlists.txt
	@echo "-- the imported tracks' metadata, from the (fake) Spotify:"
	$(DEMO_SPOTIFY) $(PY) -m ingestion poll --until-enriched
	$(MAKE) --no-print-directory etl
	$(MAKE) --no-print-directory debezium replication-wait
	$(PY) -m operations summary
	$(MAKE) --no-print-directory dashboard

dashboard: setup ## start the web dashboard in the background (idempotent) and print its URL
	$(PY) -m operations start dashboard

dashboard-stop: setup ## stop the web dashboard
	$(PY) -m operations stop dashboard

# Spotify login service, fake Spotify, ingestion. Background services run under supervisord
# (operations/supervisor.py), log in <runtime_dir>/logs; starting a running one changes nothing.

secrets: setup ## write generated values for empty secret settings (TOKEN_ENCRYPTION_KEY...) to .env
	$(PY) -m operations secrets

fake-spotify: setup ## start the fake Spotify in the background (FAKE_SPOTIFY_PORT, USERS, SEED)
	$(PY) -m operations start fake-spotify --port $(FAKE_SPOTIFY_PORT) --users $(USERS) --seed $(SEED) --days $(FAKE_SPOTIFY_DAYS)

fake-spotify-stop: setup ## stop the fake Spotify
	$(PY) -m operations stop fake-spotify

flask: secrets ## start the Spotify login service in the background (FLASK_HOST:FLASK_PORT)
	$(PY) -m operations start flask

flask-stop: setup ## stop the Spotify login service
	$(PY) -m operations stop flask

ingest: setup ## one Web API ingestion run for every connected user, now
	$(PY) -m ingestion poll

import: setup ## import a Spotify data export: FILE=zip|folder|json USER=id [CREATE_USER=1 TZ=Europe/Berlin]
	@test -n "$(FILE)" -a "$(origin USER)" = "command line" || { echo "usage: make import FILE=path USER=spotify_user_id [CREATE_USER=1 TZ=zone]" >&2; exit 2; }
	$(PY) -m ingestion import "$(FILE)" --user "$(USER)" $(if $(CREATE_USER),--create-user) $(if $(TZ),--timezone "$(TZ)")

.PHONY: recap
export: setup ## your plays and statistics in one zip: USER=id FORMAT=csv|json|parquet [OUT=path]
	@test -n "$(FORMAT)" -a "$(origin USER)" = "command line" || { echo "usage: make export USER=spotify_user_id FORMAT=csv|json|parquet [OUT=path]" >&2; exit 2; }
	$(PY) -m ingestion export --user "$(USER)" --format "$(FORMAT)" $(if $(OUT),--out "$(OUT)")

recap: setup ## render one monthly recap e-mail to files, without sending: USER=id MONTH=YYYY-MM [OUT=folder]
	@test -n "$(MONTH)" -a "$(origin USER)" = "command line" || { echo "usage: make recap USER=user_id MONTH=YYYY-MM [OUT=folder]" >&2; exit 2; }
	$(PY) -m recap render --user "$(USER)" --month "$(MONTH)" $(if $(OUT),--out "$(OUT)")

lint: setup ## ruff, and the test that every import follows the direction of dependency
	$(PY) -m ruff check .
	$(PY) -m pytest -q -p no:cacheprovider tests/test_layout.py

test: setup ## run the test suite on TEST_WORKERS workers (each starts its own servers on free ports)
	$(PY) -m pytest -n $(TEST_WORKERS) --dist loadfile

.PHONY: bench
bench: setup ## measure every stage at several sizes (SIZE=10k,100k,1M; REPEAT=3): bench/results/latest.md
	$(PY) -m bench.run $(if $(SIZE),--sizes $(SIZE)) $(if $(REPEAT),--repeat $(REPEAT)) $(BENCH_ARGS)

# Debezium replication main -> replica (cdc_connectors/): supervisor program debezium,
# log <runtime_dir>/logs/debezium.log (Debezium's own log: debezium-engine.log).
debezium: setup ## start the Debezium replicator main -> replica in the background (idempotent)
	$(PY) -m operations start debezium

debezium-stop: setup ## stop the Debezium replicator (offsets kept: the next start resumes)
	$(PY) -m operations stop debezium

replication-status: setup ## replication slot, retained WAL, applied position and lag
	$(PY) -m cdc_connectors status

replication-wait: setup ## wait until the replica has applied everything main committed (TIMEOUT=120)
	$(PY) -m cdc_connectors wait --timeout $(or $(TIMEOUT),120)

# Airflow and the whole stack (operations/airflow_service.py, operations/stack.py): supervisord in
# <runtime_dir>/supervisor, logs in <runtime_dir>/logs; `up` starts in dependency order, `down` stops all.
.PHONY: airflow airflow-stop up down status logs clean
airflow: setup ## start Airflow (api-server, scheduler, dag-processor) on 127.0.0.1:AIRFLOW_PORT
	$(PY) -m operations start airflow

airflow-stop: setup ## stop Airflow's four processes (SIGINT)
	$(PY) -m operations stop airflow

up: setup ## start the whole stack in dependency order, each healthy before the next
	$(PY) -m operations up

down: setup ## stop every component in reverse order (through supervisord), supervisord, then the clusters
	$(PY) -m operations down

status: setup ## each component: running or not, health, URL (and Airflow's password file)
	@$(PY) -m operations status

logs: setup ## the last lines of every component's log (LINES=20)
	@$(PY) -m operations logs --lines $(or $(LINES),20)

clean: setup ## remove this project's runtime folder (data, logs, supervisord) after listing it (YES=1: no question)
	@$(PY) -m operations clean $(if $(YES),--yes)
