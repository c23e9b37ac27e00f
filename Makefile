# Two commands do all the set-up on a fresh machine with only Python and pip.
PYTHON ?= python3
VENV   ?= .venv
BIN     = $(VENV)/bin
STAMP   = $(VENV)/.installed-stamp

.PHONY: install run test lint bench notebooks clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $(STAMP)

install: $(STAMP)

# Demo data in an embedded SQLite file (brought to the current schema first), a re-match, then the web app on 127.0.0.1:8000.
run: install
	$(BIN)/duijie db upgrade
	$(BIN)/duijie demo
	$(BIN)/duijie encode
	$(BIN)/duijie rematch
	$(BIN)/duijie serve --host 127.0.0.1 --port 8000

test: install
	$(BIN)/ruff check matcher models api tests data/eval notebooks
	$(BIN)/python -m pytest $(PYTEST_ARGS)

# The engine at Jilin scale, on every shape of data, against BM25 and a naive implementation
# measured in the same run.
bench: install
	$(BIN)/duijie bench --scale quick --scale jilin --scale jilin:boilerplate --scale jilin:offtopic \
		--scale jilin:lengths --out bench-results.md

# The analysis notebooks, run top to bottom and saved with their plots (demo data if the DB is empty).
notebooks: install
	$(BIN)/python notebooks/run.py

lint: install
	$(BIN)/ruff check matcher models api tests

clean:
	rm -rf $(VENV) duijie.db demo_data
