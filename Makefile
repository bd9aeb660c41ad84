# Two commands do all the set-up on a fresh machine with Python 3.11:
#   make demo   -- create .venv, install the core package, explain denied applicants of the
#                  bundled German credit data
#   make test   -- create .venv, install with the test extras, run the test suite on every core
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin

.PHONY: demo test bench lint install install-dev clean

$(BIN)/activate:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

# The core package only: what `make demo` and `recourse` need.
$(VENV)/.installed: $(BIN)/activate pyproject.toml
	$(BIN)/python -m pip install --quiet -e .
	touch $@

# The core plus the test extras (`dev`: pytest, hypothesis, OR-Tools, boosting libraries ...).
$(VENV)/.installed-dev: $(VENV)/.installed
	$(BIN)/python -m pip install --quiet -e ".[dev]"
	touch $@

install: $(VENV)/.installed

install-dev: $(VENV)/.installed-dev

demo: install
	$(BIN)/recourse demo
	@echo "The recourse command is $(abspath $(BIN))/recourse (or run 'source $(BIN)/activate' first, then 'recourse ...')."

test: install-dev
	$(BIN)/python -m pytest -q -n auto

lint: install-dev
	$(BIN)/python -m pip install --quiet -e ".[lint]"
	$(BIN)/ruff check recourse encoders solvers benchmarks
	$(BIN)/mypy

bench: install-dev
	$(BIN)/python benchmarks/run.py

clean:
	rm -rf $(VENV) build *.egg-info
