# asdlab: every target creates .venv and installs into it first.
PY       ?= python3
VENV     := .venv
BIN      := $(VENV)/bin
STAMP    := $(VENV)/.installed
DATA     ?= data/factory-$(PRESET)
DATA2020 ?= data/factory2020-$(PRESET)
PRESET   ?= course
REPORT   ?= reports/$(PRESET)
JOBS     ?= 2

.PHONY: setup report test bench clean

setup: $(STAMP)

# torch with its CUDA libraries fills about 6 GB of the venv, plus pip's temporary downloads: say so
# before pip fails half-way with "No space left on device".
$(STAMP): pyproject.toml
	@free=$$(df -Pk . | awk 'NR==2 {print int($$4 / 1048576)}'); \
	if [ "$$free" -lt 10 ] && [ ! -d $(VENV)/lib/python3*/site-packages/torch ]; then \
	echo "warning: $$(pwd) has $$free GB free; the venv needs about 6 GB (torch and its CUDA libraries) plus room for pip's downloads" >&2; fi
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/pip install --upgrade --quiet pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

# The main job: the course factory datasets of both styles (generated once; a complete one is
# left as it is), then every notebook for every method into $(REPORT)/index.html; notebook 02
# (Figure 1) runs on the dcase2020-style data, the paper's setting. Running it again
# re-executes only the notebooks whose inputs changed.
report: $(STAMP)
	$(BIN)/asdlab synth --preset $(PRESET) --out $(DATA) --jobs $(JOBS) --quiet
	$(BIN)/asdlab synth --style dcase2020 --preset $(PRESET) --out $(DATA2020) --jobs $(JOBS) --quiet
	$(BIN)/asdlab report --data $(DATA) --data-2020 $(DATA2020) --preset $(PRESET) --out $(REPORT) --jobs $(JOBS)

# Two passes: everything but the `serial` tests on 2 processes, then the `serial` ones alone, on an
# otherwise idle machine (a Ray cluster's nodes must register within a fixed 30 s).
test: $(STAMP)
	$(BIN)/python -m pytest -q -n 2 -m "not serial"
	$(BIN)/python -m pytest -q -m serial

bench: $(STAMP)
	$(BIN)/python benchmarks/features.py

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache
