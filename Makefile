# NexusTop — two commands on a fresh clone: `make demo` and `make test`.
# Both install the exact, hash-checked versions in requirements-dev.lock (the Docker image installs
# requirements.lock); pyproject.toml declares the ranges, `make lock` / `make upgrade` re-resolve them.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
RUNTIME_LOCK := requirements.lock
DEV_LOCK := requirements-dev.lock
# uv resolves for every platform at once (markers kept), for Python 3.11, with every file's hash.
LOCK_FLAGS := --universal --python-version 3.11 --generate-hashes --quiet --custom-compile-command "make lock"
# The build backend (setuptools) is locked too, so the project installs without build isolation.
BUILD_REQUIRES := $(PYTHON) -c "import tomllib; print(*tomllib.load(open('pyproject.toml', 'rb'))['build-system']['requires'], sep='\n')"

.PHONY: demo test lint typecheck contracts pytest services browser locales bench lock upgrade clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(STAMP): $(BIN)/python $(DEV_LOCK) pyproject.toml
	$(BIN)/python -m pip install --quiet --require-hashes --no-deps -r $(DEV_LOCK)
	$(BIN)/python -m pip install --quiet --no-deps --no-build-isolation -e .
	touch $(STAMP)

## demo: chat with the bot in this terminal (SQLite, in-process tasks, sandbox providers)
demo: $(STAMP)
	$(BIN)/nexustop chat --demo

## test: ruff, mypy, import-linter contracts and the whole pytest suite
test: lint typecheck contracts pytest

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: $(STAMP)
	$(BIN)/mypy bots conversations domain services payments admin nexustop sandbox

contracts: $(STAMP)
	$(BIN)/lint-imports

pytest: $(STAMP) services browser
	$(BIN)/pytest -q

## services: start the local PostgreSQL and Redis the tests use if they are down (scripts/services)
services:
	@scripts/services

## browser: Debian's Chromium for the Playwright inbox tests (installed once; never `playwright install`)
browser:
	@command -v chromium >/dev/null 2>&1 || (apt-get update && apt-get install -y chromium) \
		|| echo "warning: chromium could not be installed; the browser tests will be skipped"

## locales: re-extract messages and merge them into the en/fr/pt catalogs
locales: $(STAMP)
	$(BIN)/pybabel extract -F babel.cfg -k _ -k N_ -k n_:1,2 -c TRANSLATORS: --add-location=file --sort-output \
		--no-wrap --project=NexusTop -o locales/messages.pot conversations
	$(BIN)/pybabel update -i locales/messages.pot -d locales -D messages --no-wrap

## bench: every benchmark, one after another (each also runs alone: python bench/<name>.py)
bench: $(STAMP)
	$(BIN)/python bench/parse.py
	$(BIN)/python bench/ledger.py
	$(BIN)/python bench/engine.py
	$(BIN)/python bench/whatsapp_ingress.py
	$(BIN)/python bench/transfers.py
	$(BIN)/python bench/commits.py

## lock: re-resolve both lock files after a change to the dependencies in pyproject.toml (keeps
## every pin that still fits); upgrade: the same, moving every package to its newest allowed version
lock: $(STAMP)
	$(BUILD_REQUIRES) | $(BIN)/uv pip compile - pyproject.toml $(LOCK_FLAGS) $(UV_FLAGS) -o $(RUNTIME_LOCK)
	$(BUILD_REQUIRES) | $(BIN)/uv pip compile - pyproject.toml --extra dev -c $(RUNTIME_LOCK) \
		$(LOCK_FLAGS) $(UV_FLAGS) -o $(DEV_LOCK)

upgrade:
	$(MAKE) lock UV_FLAGS=--upgrade

clean:
	rm -rf $(VENV) var .pytest_cache .mypy_cache .ruff_cache
