# Two entry points a new user needs: `make run` (the emulator on the embedded default) and `make test`.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test lint samples venv clean

venv: $(STAMP)

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test]'
	touch $(STAMP)

samples: $(STAMP)
	$(BIN)/python sample_models/train.py

run: samples
	$(BIN)/modelmesh-emulator serve runtimes/ sample_models/

test: samples
	$(BIN)/ruff check emulator tests sample_models runtimes
	$(BIN)/python -m pytest $(PYTEST_ARGS)

lint: $(STAMP)
	$(BIN)/ruff check emulator tests sample_models runtimes

clean:
	rm -rf $(VENV) sample_models/bucket .pytest_cache
