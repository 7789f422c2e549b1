# Two set-up commands do everything on a fresh machine: `make demo` and `make test`.
PY ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test lint venv clean

# the modules setup.py compiles (and their .pxd): a change recompiles them (pip install -e)
HOT := $(shell sed -n 's/^    "\(.*\.py\)",$$/\1/p' setup.py)

$(STAMP): pyproject.toml setup.py $(HOT) $(wildcard models/*.pxd rules/*.pxd)
	@test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e '.[dev]'
	@touch $(STAMP)

venv: $(STAMP)

demo: $(STAMP)
	$(BIN)/sentinelle demo

test: $(STAMP)
	$(BIN)/ruff check flows models rules benchmarks tests
	$(BIN)/python -m pytest -q tests
	$(BIN)/sentinelle rules test

lint: $(STAMP)
	$(BIN)/ruff check flows models rules benchmarks tests

clean:
	rm -rf $(VENV)
