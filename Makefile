PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
HOST ?= 127.0.0.1
# PORT: `make run PORT=4000`, the environment, or .env (default 3002); gunicorn.conf.py reads it.
DEMO_PORT ?= 5173
# What `make demo-data` writes: a laptop-sized project dashboard.
DEMO_EVENTS ?= 50000
DEMO_DAYS ?= 14

# The free country database (CC0, ip-location-db), from the npm registry: GEOIP_PATH's default.
GEOIP_VERSION := 2.3.2026061719
GEOIP_STAMP := .geoip/$(GEOIP_VERSION).fetched

.PHONY: run test lint format worker migrate superuser bench clean demo demo-data

$(VENV)/.installed: requirements.txt requirements-dev.txt requirements-oracle.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -r requirements-dev.txt
	$(BIN)/pip install -q --no-deps -r requirements-oracle.txt
	touch $@

.env:
	cp .env.example .env

# Without npm, or offline, the service runs without countries (a warning at start says so).
$(GEOIP_STAMP):
	@if command -v npm >/dev/null && mkdir -p .geoip \
	    && (cd .geoip && npm pack --silent @ip-location-db/geo-whois-asn-country-mmdb@$(GEOIP_VERSION) >/dev/null \
	        && tar -xzf ip-location-db-geo-whois-asn-country-mmdb-$(GEOIP_VERSION).tgz --strip-components=1 \
	           package/geo-whois-asn-country.mmdb \
	        && rm -f ip-location-db-geo-whois-asn-country-mmdb-$(GEOIP_VERSION).tgz); then \
	    rm -f .geoip/*.fetched && touch $@; \
	else echo "No country database fetched (needs npm and the npm registry): sessions get no country."; fi

migrate: $(VENV)/.installed .env $(GEOIP_STAMP)
	$(BIN)/python manage.py migrate --noinput

## Serve http://$(HOST):3002 (or PORT) with gunicorn on the settings of .env.
run: migrate
	$(BIN)/python manage.py collectstatic --noinput -v0
	BIND_HOST=$(HOST) $(BIN)/gunicorn analytics.wsgi --config gunicorn.conf.py

## The browser SDK's demo page on a second origin, http://$(HOST):$(DEMO_PORT)/demo.html (docs/sdk.md).
demo:
	@echo "Demo page: http://$(HOST):$(DEMO_PORT)/demo.html  (the service must be running: make run)"
	$(PYTHON) -m http.server $(DEMO_PORT) --bind $(HOST) --directory ingest/sdk

## The whole suite, on the embedded Postgres and a private redis-server unless DATABASE_URL / REDIS_URL are set.
test: $(VENV)/.installed $(GEOIP_STAMP)
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

## A staff superuser without questions: DJANGO_SUPERUSER_USERNAME / _PASSWORD / _EMAIL, else admin/admin.
superuser: migrate
	$(BIN)/python manage.py ensuresuperuser

## Synthetic traffic for the dashboard: project "demo" (created if missing), DEMO_EVENTS over DEMO_DAYS.
demo-data: migrate
	$(BIN)/python manage.py createproject demo --origin http://$(HOST):$(DEMO_PORT) --if-missing
	$(BIN)/python manage.py generate_traffic demo --days $(DEMO_DAYS) --events $(DEMO_EVENTS)

clean:
	rm -rf $(VENV) staticfiles

## Load benchmark on Postgres + Redis (see bench/run.py); prints JSON lines.
bench: $(VENV)/.installed
	$(BIN)/python bench/run.py $(SCENARIOS)
