# Set-up and entry points. `make reproduce` and `make test` work on a fresh Debian machine.
PYTHON ?= python3.11
VENV ?= .venv
CORES ?= all
BIN := $(VENV)/bin

.PHONY: setup setup-test reproduce test bench verify clean

setup: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml scripts/install-system-packages.sh
	scripts/install-system-packages.sh
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check -e ".[test]"
	touch $@

## What the tests need beyond the report: pdftotext and a headless browser (Debian's chromium).
setup-test: setup
	scripts/install-system-packages.sh test

## The full reproduction: datasets -> training -> aggregation -> figures -> report (HTML and PDF).
reproduce: setup
	$(BIN)/snakemake --cores $(CORES)

## The test suite (tiny config/smoke.yaml grid; never the full one).
test: setup-test
	$(BIN)/python -m pytest

## Speed of the engine against per-trial model.fit (numbers quoted in the README).
bench: setup
	$(BIN)/python -m lossatlas.bench --trials 1000 --fit-trials 5

## Re-run a sample of cells (VERIFY_CELLS, default 3) and check they reproduce the current results.
VERIFY_CELLS ?= 3
verify: setup
	$(BIN)/python -m lossatlas.verify --config config/config.yaml --results results --cells $(VERIFY_CELLS)

clean:
	rm -rf results .snakemake
