# TheTool: `make run` installs and starts the service (web + worker); `make test` runs every test.
# The first Python >= 3.11 found on PATH (a name that exists but cannot run, like a pyenv shim for a
# version that is not installed, is passed over). Override with `make PYTHON=/path/to/python3.x ...`.
PYTHON ?= $(shell for p in python3.11 python3.12 python3.13 python3; do \
	$$p -c 'import sys; sys.exit(sys.version_info < (3, 11))' >/dev/null 2>&1 && { command -v $$p; break; }; done)
VENV ?= .venv
PY := $(VENV)/bin/python
# The PostgreSQL pass of `make test` (skipped with a reason when nothing listens there; required when CI=true).
TEST_POSTGRES_URL ?= postgres://postgres@127.0.0.1:5432/thetool
PYTEST_ARGS ?=

.PHONY: install run run-scale test lint check-deploy bench clean check-python

check-python:
	@if [ -z "$(PYTHON)" ]; then \
		echo "TheTool needs Python >= 3.11 (3.11 and 3.12 are tested): none of python3.11, python3.12," \
			"python3.13, python3 on PATH is one. Install one, or run make PYTHON=/path/to/python3.x"; exit 1; \
	fi
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else \
		"TheTool needs Python >= 3.11; $(PYTHON) is " + sys.version.split()[0])'

$(VENV)/.installed: requirements.txt
	@$(MAKE) --no-print-directory check-python
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --upgrade pip
	$(VENV)/bin/pip install --quiet -r requirements.txt
	touch $@

install: $(VENV)/.installed

# Migrations also load the default universe (NIFTY 50); the worker (`run_worker`) runs the stale-job reaper.
run: install
	$(PY) manage.py migrate --noinput
	$(PY) manage.py collectstatic --noinput --verbosity 0
	@# Ctrl-C: honcho stops web and worker and exits 130; trapping INT here lets that end as a clean stop.
	@trap 'true' INT; PATH="$(CURDIR)/$(VENV)/bin:$$PATH" $(VENV)/bin/honcho start --procfile Procfile; \
		rc=$$?; if [ $$rc -eq 130 ]; then echo "Stopped."; exit 0; fi; exit $$rc

# Scale-out on one machine: WEB gunicorn instances (ports 8000, 8001, ...) + WORKERS run_worker processes, all on
# PostgreSQL (SQLite is for one host only). Set REDIS_URL to use Redis as the broker instead of the ORM.
WEB ?= 2
WORKERS ?= 2
SCALE_DATABASE_URL ?= postgres://postgres@127.0.0.1:5432/thetool
SCALE_PORT ?= 8000
run-scale: install
	@case "$${DATABASE_URL:-$(SCALE_DATABASE_URL)}" in postgres*) ;; *) echo "run-scale needs DATABASE_URL=postgres://..."; exit 1;; esac
	DATABASE_URL="$${DATABASE_URL:-$(SCALE_DATABASE_URL)}" $(PY) manage.py migrate --noinput
	DATABASE_URL="$${DATABASE_URL:-$(SCALE_DATABASE_URL)}" $(PY) manage.py collectstatic --noinput --verbosity 0
	@# Ctrl-C: as for `make run`, honcho's exit 130 after stopping everything is a clean stop.
	@trap 'true' INT; DATABASE_URL="$${DATABASE_URL:-$(SCALE_DATABASE_URL)}" PATH="$(CURDIR)/$(VENV)/bin:$$PATH" \
		$(VENV)/bin/honcho start --procfile deploy/Procfile.scale --app-root . -p $(SCALE_PORT) \
		-c web=$(WEB),worker=$(WORKERS); rc=$$?; if [ $$rc -eq 130 ]; then echo "Stopped."; exit 0; fi; exit $$rc

# Both passes always run (a failing SQLite pass must not hide what PostgreSQL says); the target fails
# when either failed.
test: install
	@echo "== SQLite pass =="; \
	$(PY) -m pytest $(PYTEST_ARGS); sqlite=$$?; \
	if $(PY) tests/postgres_reachable.py "$(TEST_POSTGRES_URL)"; then \
		echo "== PostgreSQL pass ($(TEST_POSTGRES_URL)) =="; \
		DATABASE_URL="$(TEST_POSTGRES_URL)" $(PY) -m pytest $(PYTEST_ARGS); postgres=$$?; \
	elif [ "$$CI" = "true" ]; then \
		echo "PostgreSQL is not reachable at $(TEST_POSTGRES_URL), and CI=true requires the PostgreSQL pass"; \
		postgres=1; \
	else \
		echo "SKIPPED the PostgreSQL pass: nothing listens at $(TEST_POSTGRES_URL) (start PostgreSQL to run it)"; \
		postgres=0; \
	fi; \
	echo "== make test: SQLite pass exit $$sqlite, PostgreSQL pass exit $$postgres =="; \
	[ $$sqlite -eq 0 ] && [ $$postgres -eq 0 ]

lint: install
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/ruff check .

# Django's deployment checks with the production environment the README documents (a throwaway secret
# key; nothing else from this shell's DJANGO_/THETOOL_/DATABASE_URL/REDIS_URL variables). CI runs it.
check-deploy: install
	env $$(env | sed -n 's/^\(DJANGO_[A-Z_]*\|THETOOL_[A-Z_]*\|DATABASE_URL\|REDIS_URL\)=.*/-u \1/p') \
		DJANGO_DEBUG=false DJANGO_SECRET_KEY="$$($(PY) -c 'import secrets; print(secrets.token_urlsafe(50))')" \
		DJANGO_ALLOWED_HOSTS=thetool.example.com DJANGO_CSRF_TRUSTED_ORIGINS=https://thetool.example.com \
		DJANGO_SECURE_PROXY_SSL_HEADER=HTTP_X_FORWARDED_PROTO,https \
		$(PY) manage.py check --deploy --fail-level WARNING

bench: install
	$(PY) bench/bench_analysis.py
	$(PY) bench/bench_universe.py
	$(PY) bench/bench_backtest.py
	$(PY) bench/bench_load_universe.py
	$(PY) bench/bench_jobs.py --db both
	$(PY) bench/bench_fanout.py --db both
	$(PY) bench/bench_dashboard.py --db both
	$(PY) bench/bench_results.py --db postgres --rows 100000,1000000
	$(PY) bench/bench_results.py --db sqlite --rows 1000000

clean:
	rm -rf $(VENV) staticfiles .cache db.sqlite3* test-db-*.sqlite3*
