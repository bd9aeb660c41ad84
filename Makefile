# Two commands do all the set-up on a fresh machine with Python 3.11:
#   make demo   -- create .venv, install, explain denied applicants of the bundled German credit data
#   make test   -- create .venv, install with test extras, run the test suite
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin

.PHONY: demo test bench lint install clean

$(BIN)/activate:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(VENV)/.installed: $(BIN)/activate pyproject.toml
	$(BIN)/python -m pip install --quiet -e ".[dev]"
	touch $@

install: $(VENV)/.installed

demo: install
	$(BIN)/recourse demo

test: install
	$(BIN)/python -m pytest -q -n auto

lint: install
	$(BIN)/python -m pip install --quiet -e ".[lint]"
	$(BIN)/ruff check recourse encoders solvers benchmarks
	$(BIN)/mypy

bench: install
	$(BIN)/python benchmarks/run.py

clean:
	rm -rf $(VENV) build *.egg-info
