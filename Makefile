# Two commands do all the set-up on a fresh machine with Python 3.11:
#   make demo   -- create .venv, install the core package, explain denied applicants of the
#                  bundled German credit data
#   make test   -- create .venv, install with the test extras, run the test suite on every core
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin

.PHONY: demo test bench lint lint-check install install-dev clean

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
	$(MAKE) --no-print-directory lint-check

# The folders installed under recourse/ by [tool.setuptools] package-dir in pyproject.toml
# (tests/test_packaging/test_architecture.py checks this list against it).
MAPPED := encoders solvers
LINT_TREE := build/lint

# ruff and mypy alone (no install). mypy checks a mirror of the installed layout:
# $(LINT_TREE)/recourse holds symlinks to every entry of recourse/ plus one per MAPPED
# folder, so that recourse.encoders and recourse.solvers resolve; its messages name files
# by their import path (recourse/encoders/trees.py is encoders/trees.py).
lint-check:
	$(BIN)/python -m ruff check recourse encoders solvers benchmarks tests/test_cli tests/test_packaging
	rm -rf $(LINT_TREE)/recourse
	mkdir -p $(LINT_TREE)/recourse
	for p in recourse/*; do ln -s ../../../$$p $(LINT_TREE)/recourse/; done
	for d in $(MAPPED); do ln -s ../../../$$d $(LINT_TREE)/recourse/$$d; done
	cd $(LINT_TREE) && ../../$(BIN)/python -m mypy --config-file ../../pyproject.toml -p recourse

bench: install-dev
	$(BIN)/python benchmarks/run.py

clean:
	rm -rf $(VENV) build *.egg-info
