# Set-up and entry points. `make reproduce` and `make test` work on a fresh Debian machine.
PYTHON ?= python3.11
VENV ?= .venv
CORES ?= all
# More options for Snakemake, e.g. SNAKEMAKE_ARGS="--configfile config/smoke.yaml".
SNAKEMAKE_ARGS ?=
BIN := $(VENV)/bin

.PHONY: setup setup-test reproduce test bench verify diagnose clean

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
## A run that was killed (even kill -9) resumes: a stale lock is removed first, then Snakemake redoes
## only the unfinished jobs (profiles/default: rerun-incomplete).
reproduce: setup
	scripts/unlock-stale.sh $(BIN)/snakemake $(SNAKEMAKE_ARGS)
	$(BIN)/snakemake --cores $(CORES) $(SNAKEMAKE_ARGS)

## The test suite (tiny config/smoke.yaml grid; never the full one).
test: setup-test
	$(BIN)/python -m pytest

## Speed of the engine against per-trial model.fit, its cost per trial by stack and its roofline (numbers quoted in the README).
bench: setup
	$(BIN)/python -m lossatlas.training.bench --trials 1000 --fit-trials 5 --scaling

## Check results/: every file against what made it, every cell's statistics and every report table
## recomputed (cheap); with RETRAIN=N also N cells re-trained from scratch (expensive).
RETRAIN ?= 0
verify: setup
	$(BIN)/python -m lossatlas.verify --config config/config.yaml --results results --retrain $(RETRAIN) $(VERIFY_ARGS)

## Diagnose your own data: which loss, output, optimizer and rate fit a CSV file best, and whether your
## current choice (MSE, linear output, Adam at its default rate, raw targets) is slow or stuck. Writes
## results/diagnose/<file stem>/ (config.yaml, claims.yaml, the run and its report) and prints a summary.
## More options (your choice, features, --size smoke): DIAGNOSE_ARGS="--loss huber --activation sigmoid".
DATA ?=
TARGET ?=
DIAGNOSE_ARGS ?=
diagnose: setup
	@test -n "$(DATA)" -a -n "$(TARGET)" || { echo "usage: make diagnose DATA=path/to/file.csv TARGET=column [DIAGNOSE_ARGS=...]" >&2; exit 2; }
	$(BIN)/python -m lossatlas.diagnose --data "$(DATA)" --target "$(TARGET)" --cores $(CORES) $(DIAGNOSE_ARGS)

clean:
	rm -rf results .snakemake
