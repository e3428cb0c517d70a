# songs: `make run` serves the API on http://127.0.0.1:8000, `make test` runs the suite;
# a bare `make` lists every target.
# Both build the virtual environment in .venv from the pinned requirements first.

PYTHON ?= python3
PORT ?= 8000
JOBS ?= 4  # test processes: most tests wait on servers and sockets more than on a core
VENV := .venv
BIN := $(VENV)/bin
RUNTIME := $(VENV)/.run

.PHONY: help run procfile dev test deploy-check check fuzz screenshot lint format init-db seed import export backup migrate-to-postgres bench clean
.DEFAULT_GOAL := help

help:  ## list these targets (what a bare `make` does)
	@sed -n 's/^\([a-z-]*\):.*## \(.*\)/\1\t\2/p' $(MAKEFILE_LIST) | expand -t 22

run: $(RUNTIME)  ## serve on 127.0.0.1:8000 (PORT= for another), after init-db
	$(BIN)/python service.py serve --bind 127.0.0.1:$(PORT)

procfile: $(RUNTIME)  ## run the Procfile as a platform does: its release step, then web on PORT (8000)
	PATH="$(CURDIR)/$(VENV)/bin:$$PATH" sh -c "$$(sed -n 's/^release: *//p' Procfile)"
	PATH="$(CURDIR)/$(VENV)/bin:$$PATH" PORT=$(PORT) exec sh -c "exec $$(sed -n 's/^web: *//p' Procfile)"

dev: $(RUNTIME)  ## serve with one worker that reloads when the code changes
	$(BIN)/python service.py serve --reload --workers 1 --bind 127.0.0.1:$(PORT)

# The suite starts some 200 Python processes (its own, gunicorn's, the commands'): each
# compiles again every module it imports when bytecode is never kept, as some containers set
# PYTHONDONTWRITEBYTECODE to do; about 0.2 s of CPU for each server it starts.
test check: export PYTHONDONTWRITEBYTECODE =

test: $(VENV)/.dev $(VENV)/.nu-checker $(VENV)/.node  ## run the test suite
	$(BIN)/pytest -n $(JOBS) --dist loadgroup --no-loadscope-reorder $(PYTEST_ARGS)

deploy-check: $(VENV)/.dev  ## build and run the image, nginx in front, compose and the systemd unit (tests/deploy)
	$(BIN)/pytest tests/deploy $(PYTEST_ARGS)

check: $(VENV)/.dev $(VENV)/.nu-checker  ## lint, then the quick tests: in-process, on SQLite (under a minute)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/pytest -n $(JOBS) --quick $(PYTEST_ARGS)

fuzz: $(VENV)/.dev  ## fuzz with schemathesis, longer, with a new seed it prints (SEED=N replays)
	@seed=$(or $(SEED),$$(od -An -N4 -tu4 /dev/urandom | tr -d ' ')); \
	echo "schemathesis seed $$seed: make fuzz SEED=$$seed replays this run"; \
	$(BIN)/pytest tests/test_schemathesis.py --fuzz-examples $(or $(EXAMPLES),300) \
		--fuzz-seed $$seed; status=$$?; \
	echo "schemathesis seed $$seed: make fuzz SEED=$$seed replays this run"; exit $$status

screenshot: $(VENV)/.dev  ## remake docs/songs-page.png, the README's picture, in Chromium
	$(BIN)/pytest tests/test_browser.py -k as_a_person_sees_it --screenshot docs/songs-page.png

lint: $(VENV)/.dev  ## check style and formatting with ruff
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: $(VENV)/.dev  ## fix what ruff can fix, and format
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

bench: $(VENV)/.bench  ## measure against floors and Falcon with wrk, into bench/results.md (QUICK=1: not kept)
	$(BIN)/python bench/run.py $(if $(QUICK),--quick)

init-db: $(RUNTIME)  ## create or upgrade DATABASE_URL's schema, keeping every song
	$(BIN)/python service.py init-db

seed: $(RUNTIME)  ## add N sample songs (N=1000 unless given) to DATABASE_URL, 10,000 a transaction
	$(BIN)/python service.py seed $(or $(N),1000)

import: $(RUNTIME)  ## add the songs of FILE, a CSV file as export writes it: all of them or none
	@test -n "$(FILE)" || { echo "usage: make import FILE=songs.csv" >&2; exit 2; }
	$(BIN)/python service.py import "$(FILE)"

export: $(RUNTIME)  ## write every song to FILE (songs.csv unless given) as CSV, oldest first
	$(BIN)/python service.py export "$(or $(FILE),songs.csv)"

backup: $(RUNTIME)  ## copy DATABASE_URL's database to FILE (songs-<UTC time>.db unless given), live
	$(BIN)/python service.py backup "$(or $(FILE),songs-$(shell date -u +%Y%m%dT%H%M%SZ).db)"

migrate-to-postgres: $(RUNTIME)  ## copy FILE's songs (songs.db unless given) into DATABASE_URL's PostgreSQL
	$(BIN)/python service.py migrate-to-postgres "$(or $(FILE),songs.db)"

clean:  ## remove the virtual environment and caches; databases are never touched
	rm -rf $(VENV) .pytest_cache .ruff_cache .hypothesis __pycache__ tests/__pycache__ \
		tests/helpers/__pycache__ songs/__pycache__ songs/storage/__pycache__ bench/__pycache__

$(BIN)/python:
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 10))' \
		|| { echo "songs needs Python 3.10 or later; '$(PYTHON)' is older." >&2; exit 1; }
	$(PYTHON) -m venv $(VENV) || { rm -rf $(VENV); \
		echo "Could not create a virtual environment (on Debian or Ubuntu: apt-get install python3-venv)." >&2; \
		exit 1; }

$(VENV)/.run: requirements.txt | $(BIN)/python
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -r requirements.txt
	touch $@

$(VENV)/.dev: requirements.txt requirements-dev.txt | $(BIN)/python
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	touch $@ $(VENV)/.run  # requirements-dev.txt installs requirements.txt too

$(VENV)/.bench: requirements.txt requirements-bench.txt | $(BIN)/python
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -r requirements-bench.txt
	touch $@ $(VENV)/.run

$(VENV)/.nu-checker: tests/helpers/nu_checker.py | $(BIN)/python  # the HTML validator's jar, pinned
	$(BIN)/python tests/helpers/nu_checker.py
	touch $@

$(VENV)/.node: tests/node/package.json tests/node/package-lock.json | $(BIN)/python
	$(BIN)/python tests/helpers/node_tools.py  # Lighthouse, the linters, TypeScript: npm, pinned
	touch $@
