# Two commands a newcomer needs: `make run` and `make test`. Only Python 3.11+ is required.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
BIN := $(VENV)/bin
DEMO_STATUS_PORT ?= 8001
PORT ?= 8000

.PHONY: install run prod test lint typecheck check bench bench-import bench-decide bench-drain bench-scaleout screenshots clean

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[dev]'
	touch $@

install: $(VENV)/.installed

# Migrates, loads the demo on first run, prints the admin login, then runs the web server, the
# task cluster and the demo status service together (Ctrl-C stops all three).
run: install
	$(PY) manage.py migrate --noinput
	$(PY) manage.py setup_roles
	$(PY) manage.py setup_schedules
	$(PY) manage.py load_demo --if-empty
	@STATUS_API_URL=$${STATUS_API_URL:-http://127.0.0.1:$(DEMO_STATUS_PORT)}; export STATUS_API_URL; \
	DEBUG=$${DEBUG:-true}; export DEBUG; \
	trap 'kill 0' INT TERM EXIT; \
	if [ "$$STATUS_API_URL" = "http://127.0.0.1:$(DEMO_STATUS_PORT)" ]; then \
	  $(PY) manage.py demo_status_server --port $(DEMO_STATUS_PORT) & \
	fi; \
	$(PY) manage.py qcluster & \
	$(PY) manage.py runserver 127.0.0.1:$(PORT)

# Production on one machine without systemd (docs/deploy.md): the deploy check, migrate,
# collectstatic, roles and schedules, then gunicorn (config/gunicorn.conf.py) and the task cluster
# with config.settings.production. Needs SECRET_KEY, CREDENTIALS_ENCRYPTION_KEYS, STATUS_API_URL,
# ALLOWED_HOSTS, DATABASE_URL, REDIS_URL and CACHE_URL in the environment or .env.
prod: install
	@export DJANGO_SETTINGS_MODULE=config.settings.production; \
	$(PY) manage.py check --deploy --fail-level WARNING && \
	$(PY) manage.py migrate --noinput && \
	$(PY) manage.py collectstatic --noinput && \
	$(PY) manage.py setup_roles && \
	$(PY) manage.py setup_schedules && { \
	trap 'kill 0' INT TERM EXIT; \
	$(PY) manage.py qcluster & \
	$(BIN)/gunicorn -c config/gunicorn.conf.py config.wsgi; }

test: install
	$(BIN)/pytest

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: install
	$(BIN)/mypy .

bench: bench-import bench-decide bench-drain bench-scaleout

bench-import: install
	$(PY) bench/bench_import_stock.py

bench-decide: install
	$(PY) bench/bench_decide_order.py

bench-drain: install
	$(PY) bench/bench_drain.py

bench-scaleout: install
	$(PY) bench/bench_scaleout.py

screenshots: install
	$(PY) bench/take_screenshots.py

clean:
	rm -rf $(VENV) db.sqlite3 .pytest_cache .mypy_cache .ruff_cache
