# Two entry points a new user needs: `make run` (the emulator on the embedded default) and `make test`.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# Triton's Python backend embeds its own interpreter, whose packages need numpy<2 (emulator/launchers/triton_dist.py).
# Beside nvidia-pytriton it holds what the emulator's stand-in backends run (onnxruntime, torch, xgboost, lightgbm:
# emulator/launchers/triton_standins/; about 1.4 GB installed, torch's CPU wheel most of it).
TRITON_VENV ?= .venv-triton
# The KServe SDK would upgrade FastAPI/Starlette under the emulator: tests/kube/test_kserve_sdk.py runs it from here.
KSERVE_VENV ?= .venv-kserve
TRITON_PACKAGES := nvidia-pytriton 'numpy<2' onnxruntime 'torch==2.13.0' xgboost-cpu lightgbm

.PHONY: run test lint samples venv triton kserve clean bench

venv: $(STAMP)

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test]'
	touch $(STAMP)

triton: $(TRITON_VENV)/.installed-standins

$(TRITON_VENV)/.installed-standins:
	test -x $(TRITON_VENV)/bin/python || $(PYTHON) -m venv $(TRITON_VENV)
	$(TRITON_VENV)/bin/pip install --quiet $(TRITON_PACKAGES)
	touch $@

kserve: $(KSERVE_VENV)/.installed

$(KSERVE_VENV)/.installed:
	test -x $(KSERVE_VENV)/bin/python || $(PYTHON) -m venv $(KSERVE_VENV)
	$(KSERVE_VENV)/bin/pip install --quiet kserve==0.21.0 kubernetes==35.0.0
	touch $@

samples: $(STAMP)
	$(BIN)/python sample_models/train.py

# The embedded default: runtimes as local processes, even where a Docker daemon answers (LAUNCHER=auto or docker
# to change that; see docs/docker.md).
LAUNCHER ?= process
run: samples
	MMEMU_LAUNCHER=$(LAUNCHER) $(BIN)/modelmesh-emulator serve runtimes/ sample_models/

test: samples triton kserve
	$(BIN)/ruff check emulator tests sample_models runtimes bench
	$(BIN)/python -m pytest $(PYTEST_ARGS)

# every bench/ script against the direct path, its table, then the issue's targets (~10 min; not part of `make test`)
bench: samples
	$(BIN)/python bench/run_all.py $(BENCH_ARGS)

lint: $(STAMP)
	$(BIN)/ruff check emulator tests sample_models runtimes bench

clean:
	rm -rf $(VENV) $(TRITON_VENV) $(KSERVE_VENV) sample_models/bucket .pytest_cache
