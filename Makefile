# asdlab: every target creates .venv and installs into it first.
PY       ?= python3
VENV     := .venv
BIN      := $(VENV)/bin
STAMP    := $(VENV)/.installed
DATA     ?= data/factory-course
PRESET   ?= course
RUNS     ?= runs/$(PRESET)
JOBS     ?= 2

.PHONY: setup demo test bench clean

setup: $(STAMP)

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/pip install --upgrade --quiet pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

# The main job: the course factory dataset (generated once) and the AE baseline on it.
demo: $(STAMP)
	$(BIN)/asdlab synth --preset $(PRESET) --out $(DATA) --jobs $(JOBS)
	$(BIN)/asdlab run ae_mse --data $(DATA) --preset $(PRESET) --out $(RUNS)/ae_mse
	$(BIN)/asdlab run ae_mahala --data $(DATA) --preset $(PRESET) --out $(RUNS)/ae_mahala

test: $(STAMP)
	$(BIN)/python -m pytest -q -n 2

bench: $(STAMP)
	$(BIN)/python benchmarks/features.py

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache
