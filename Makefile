# TheTool: `make run` installs and starts the service (web + worker); `make test` runs every test.
PYTHON ?= python3.11
VENV ?= .venv
PY := $(VENV)/bin/python
# The PostgreSQL pass of `make test` (skipped with a reason when nothing listens there; required when CI=true).
TEST_POSTGRES_URL ?= postgres://postgres@127.0.0.1:5432/thetool
PYTEST_ARGS ?=

.PHONY: install run run-scale test lint bench clean

$(VENV)/.installed: requirements.txt
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --upgrade pip
	$(VENV)/bin/pip install --quiet -r requirements.txt
	touch $@

install: $(VENV)/.installed

# Migrations also load the default universe (NIFTY 50) and schedule the stale-job reaper.
run: install
	$(PY) manage.py migrate --noinput
	$(PY) manage.py collectstatic --noinput --verbosity 0
	@# Ctrl-C: honcho stops web and worker and exits 130; trapping INT here lets that end as a clean stop.
	@trap 'true' INT; PATH="$(CURDIR)/$(VENV)/bin:$$PATH" $(VENV)/bin/honcho start --procfile Procfile; \
		rc=$$?; if [ $$rc -eq 130 ]; then echo "Stopped."; exit 0; fi; exit $$rc

# Scale-out on one machine: WEB gunicorn instances (ports 8000, 8001, ...) + WORKERS qclusters, all on
# PostgreSQL (SQLite is for one host only). Set REDIS_URL to use Redis as the broker instead of the ORM.
WEB ?= 2
WORKERS ?= 2
SCALE_DATABASE_URL ?= postgres://postgres@127.0.0.1:5432/thetool
SCALE_PORT ?= 8000
run-scale: install
	@case "$${DATABASE_URL:-$(SCALE_DATABASE_URL)}" in postgres*) ;; *) echo "run-scale needs DATABASE_URL=postgres://..."; exit 1;; esac
	DATABASE_URL="$${DATABASE_URL:-$(SCALE_DATABASE_URL)}" $(PY) manage.py migrate --noinput
	DATABASE_URL="$${DATABASE_URL:-$(SCALE_DATABASE_URL)}" $(PY) manage.py collectstatic --noinput --verbosity 0
	DATABASE_URL="$${DATABASE_URL:-$(SCALE_DATABASE_URL)}" PATH="$(CURDIR)/$(VENV)/bin:$$PATH" \
		$(VENV)/bin/honcho start --procfile deploy/Procfile.scale --app-root . -p $(SCALE_PORT) -c web=$(WEB),worker=$(WORKERS)

test: install
	$(PY) -m pytest $(PYTEST_ARGS)
	@if $(PY) tests/postgres_reachable.py "$(TEST_POSTGRES_URL)"; then \
		echo "== PostgreSQL pass ($(TEST_POSTGRES_URL)) =="; \
		DATABASE_URL="$(TEST_POSTGRES_URL)" $(PY) -m pytest $(PYTEST_ARGS); \
	elif [ "$$CI" = "true" ]; then \
		echo "PostgreSQL is not reachable at $(TEST_POSTGRES_URL), and CI=true requires the PostgreSQL pass"; exit 1; \
	else \
		echo "SKIPPED the PostgreSQL pass: nothing listens at $(TEST_POSTGRES_URL) (start PostgreSQL to run it)"; \
	fi

lint: install
	$(VENV)/bin/ruff check .

bench: install
	$(PY) bench/bench_analysis.py
	$(PY) bench/bench_universe.py
	$(PY) bench/bench_jobs.py --db both
	$(PY) bench/bench_dashboard.py --db both

clean:
	rm -rf $(VENV) staticfiles .cache db.sqlite3* test-db-*.sqlite3*
