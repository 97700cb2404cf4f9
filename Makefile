# NexusTop — two commands on a fresh clone: `make demo` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test lint typecheck contracts pytest browser locales bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

$(STAMP): $(BIN)/python pyproject.toml
	$(BIN)/pip install --quiet -e '.[dev]'
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
	$(BIN)/mypy bots conversations domain payments admin nexustop

contracts: $(STAMP)
	$(BIN)/lint-imports

pytest: $(STAMP) browser
	$(BIN)/pytest -q

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

clean:
	rm -rf $(VENV) var .pytest_cache .mypy_cache .ruff_cache
