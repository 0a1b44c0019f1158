# cleann: set up, run the default job, run the tests.
# Why a stamp file: `make demo` / `make test` re-run the (slow) install only when
# pyproject.toml changed or the venv is missing. torch is installed first and pinned so
# pip takes the local CPU wheel instead of resolving a multi-GB CUDA build.

PYTHON ?= python3.11
VENV := .venv
STAMP := $(VENV)/.cleann-installed
PYTEST_ARGS ?=

.PHONY: venv demo test test-fast clean-db

venv: $(STAMP)

$(STAMP): pyproject.toml
	test -x $(VENV)/bin/python || $(PYTHON) -m venv $(VENV)
	$(VENV)/bin/python -m pip install --quiet torch==2.13.0
	$(VENV)/bin/python -m pip install --quiet -e ".[dev,dask,eval]"
	touch $(STAMP)

demo: venv
	$(VENV)/bin/cleann demo

test: venv
	$(VENV)/bin/python -m pytest -q $(PYTEST_ARGS)

test-fast: venv
	$(VENV)/bin/python -m pytest -q -m "not slow" $(PYTEST_ARGS)

clean-db:
	rm -f cleann.duckdb cleann.duckdb.wal
