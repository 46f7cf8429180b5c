# Two set-up commands that work on a fresh clone: `make demo` and `make test`.
# Each creates .venv when missing and installs the package with the extras it needs; the install
# step re-runs only when pyproject.toml changed (a second run installs nothing new).

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PIP_FLAGS ?= --disable-pip-version-check

.PHONY: demo test test-slow bench install-dev clean help

help:
	@echo "make demo   - create .venv, install her2net, run the end-to-end demo on synthetic data"
	@echo "make test   - create .venv, install her2net with test extras, run pytest"
	@echo "make bench  - run the benchmark scripts (slow; see benchmarks/README.md)"

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install $(PIP_FLAGS) -q --upgrade pip

# Stamp files record that the install for a set of extras matches the current pyproject.toml.
$(VENV)/.installed-run: pyproject.toml | $(BIN)/python
	$(BIN)/pip install $(PIP_FLAGS) -e .
	touch $@

$(VENV)/.installed-dev: pyproject.toml | $(BIN)/python
	$(BIN)/pip install $(PIP_FLAGS) -e '.[train,formats,dev]'
	touch $@ $(VENV)/.installed-run

demo: $(VENV)/.installed-run
	$(BIN)/her2net demo --out her2net_demo --overwrite

test: $(VENV)/.installed-dev
	$(BIN)/python -m pytest -q

test-slow: $(VENV)/.installed-dev
	$(BIN)/python -m pytest -q -m slow

bench: $(VENV)/.installed-dev
	$(BIN)/python benchmarks/run_all.py

install-dev: $(VENV)/.installed-dev

clean:
	rm -rf $(VENV) her2net_demo build *.egg-info
