PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
HOST ?= 127.0.0.1
PORT ?= 3002
DEMO_PORT ?= 5173

.PHONY: run test lint format worker migrate superuser bench clean demo

$(VENV)/.installed: requirements.txt requirements-dev.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -r requirements-dev.txt
	touch $@

.env:
	cp .env.example .env

migrate: $(VENV)/.installed .env
	$(BIN)/python manage.py migrate --noinput

## Serve http://$(HOST):$(PORT) with gunicorn on the settings of .env (embedded default).
run: migrate
	$(BIN)/python manage.py collectstatic --noinput -v0
	$(BIN)/gunicorn analytics.wsgi --config gunicorn.conf.py --bind $(HOST):$(PORT)

## The browser SDK's demo page on a second origin, http://$(HOST):$(DEMO_PORT)/demo.html (README: Browser SDK).
demo:
	@echo "Demo page: http://$(HOST):$(DEMO_PORT)/demo.html  (the service must be running: make run)"
	$(PYTHON) -m http.server $(DEMO_PORT) --bind $(HOST) --directory ingest/sdk

## The whole suite, on the embedded Postgres and a private redis-server unless DATABASE_URL / REDIS_URL are set.
test: $(VENV)/.installed
	$(BIN)/pytest

lint: $(VENV)/.installed
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: $(VENV)/.installed
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

## A Celery worker with the beat scheduler (needs REDIS_URL).
worker: migrate
	$(BIN)/celery -A analytics worker --beat --loglevel=info

superuser: migrate
	$(BIN)/python manage.py createsuperuser

clean:
	rm -rf $(VENV) staticfiles

## Load benchmark on Postgres + Redis (see bench/run.py); prints JSON lines.
bench: $(VENV)/.installed
	$(BIN)/python bench/run.py $(SCENARIOS)
