# The two commands of the README: `make reproduce` (the paper) and `make test` (the test suite).
# Both create the pinned environment in .venv/ when it is missing or out of date.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-$(shell sha256sum requirements.lock | cut -c1-16)
CORES ?= all
SNAKEMAKE := $(BIN)/snakemake --cores $(CORES)

.PHONY: setup reproduce simulations test figures dry-run lint report notebooks docs


setup: $(STAMP)

$(STAMP): requirements.lock
	@$(PYTHON) -c 'import sys; assert sys.version_info[:2] == (3, 11), "Python 3.11 is required (the lock is for CPython 3.11); set PYTHON=python3.11"'
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade-strategy only-if-needed -r requirements.lock
	rm -f $(VENV)/.installed-* && touch $@

reproduce: setup
	$(SNAKEMAKE)

# The simulations (C1-C5), their figures and the claims table; no CIFAR-10, no GPU needed.
simulations: setup
	$(SNAKEMAKE) export_figures results/claims.csv --configfile config/config.yaml config/cpu_only.yaml

test: setup
	$(BIN)/python -m pytest

figures: setup
	$(SNAKEMAKE) export_figures

dry-run: setup
	$(SNAKEMAKE) --dry-run

lint: setup
	$(BIN)/snakemake --lint

# results/report.html: every figure and table with its caption (report/); runs what is missing.
report: setup
	$(SNAKEMAKE)
	$(BIN)/snakemake --report results/report.html

# results/notebooks/*.html: the notebooks/ walk-throughs executed on this run's results.
notebooks: setup
	$(SNAKEMAKE) notebooks

# docs/config_reference.md from schemas/config.schema.yaml.
docs: setup
	$(BIN)/python -m advpretrain.config_docs
