# The two commands: `make run` and `make test`. Both work on a fresh clone.
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-$(shell cat pyproject.toml | sha256sum | cut -c1-12)
HOST ?= 127.0.0.1
PORT ?= 8000

.PHONY: run test lint install migrate serve-prod clean

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV) || python3 -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e ".[dev]"
	@rm -f $(VENV)/.installed-* && touch $(STAMP)

install: $(STAMP)

run: install
	@mkdir -p var
	DJANGO_SETTINGS_MODULE=config.settings.local $(BIN)/python manage.py migrate --no-input
	DJANGO_SETTINGS_MODULE=config.settings.local $(BIN)/python manage.py bootstrap_local --url http://$(HOST):$(PORT)
	DJANGO_SETTINGS_MODULE=config.settings.local $(BIN)/uvicorn config.asgi:application --reload --host $(HOST) --port $(PORT)

test: install
	$(BIN)/pytest $(PYTEST_ARGS)

lint: install
	$(BIN)/ruff check .
	$(BIN)/mypy .
	$(BIN)/lint-imports
	$(BIN)/bandit -q -r byok_keys common config gateway groups providers web -c pyproject.toml
	DJANGO_SETTINGS_MODULE=config.settings.test $(BIN)/python manage.py makemigrations --check --dry-run

# Production serving (see README): gunicorn with uvicorn workers on the ASGI app.
serve-prod: install
	DJANGO_SETTINGS_MODULE=config.settings.production $(BIN)/gunicorn -c gunicorn.conf.py config.asgi:application

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
