# The two commands of the README: `make reproduce` (the paper) and `make test` (the test suite).
# Both create the pinned environment in .venv/ when it is missing or out of date.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
# Everything `make setup` installs from: a change to any of them re-installs.
SETUP_INPUTS := requirements/dev.lock requirements/job.lock requirements/nodeps.txt pyproject.toml \
	requirements/pip.txt
STAMP := $(VENV)/.installed-$(shell cat $(SETUP_INPUTS) | sha256sum | cut -c1-16)
CORES ?= all
SNAKEMAKE := $(BIN)/snakemake --cores $(CORES)

.PHONY: setup lock audit reproduce simulations sensitivity mechanism cifar10 test figures dry-run lint report notebooks docs


setup: $(STAMP)

# .venv: the dev lock (job packages + Snakemake, tests, linters), then torchattacks without its
# stale pins (requirements/nodeps.txt), then this package, editable, without dependencies, built
# by the locked setuptools. The editable install is a .pth file that puts the checkout on sys.path
# (pyproject.toml, [tool.setuptools]), so Snakemake's script preamble hands it on to jobs running
# in the conda env (envs/workflow.yaml); the next line checks that from another directory.
# Last, pip itself is upgraded to requirements/pip.txt (the bundled one has a CVE). Every pin
# file carries the sha256 of each file pip may take (tools/lock.py): --require-hashes refuses
# any other bytes.
$(STAMP): $(SETUP_INPUTS)
	@$(PYTHON) -c 'import sys; assert sys.version_info[:2] == (3, 11), "Python 3.11 is required (the lock is for CPython 3.11); set PYTHON=python3.11"'
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --require-hashes -r requirements/dev.lock
	$(BIN)/python -m pip install --quiet --require-hashes --no-deps -r requirements/nodeps.txt
	$(BIN)/python -m pip install --quiet --no-deps --no-build-isolation \
		--config-settings editable_mode=lenient -e .
	cd / && $(CURDIR)/$(BIN)/python -c 'import sys; assert "$(CURDIR)" in sys.path, "the editable install did not put $(CURDIR) on sys.path"'
	$(BIN)/python -m pip install --quiet --require-hashes -r requirements/pip.txt
	rm -f $(VENV)/.installed-* && touch $@

# requirements/{dev,job}.lock from requirements/{dev,job}.in, then envs/{workflow,dev}.yaml from
# the locks; only pip (tools/lock.py). Commit the results; the next `make` re-installs .venv.
lock:
	$(PYTHON) tools/lock.py

# The pinned packages (requirements/) against a vulnerability database, with pip-audit from its
# own .venv-audit (requirements/audit.txt); tools/audit.py says plainly when no vulnerability
# service is reachable (nothing checked: exit 2), a known vulnerability exits 1.
AUDIT_BIN := .venv-audit/bin
audit:
	test -x $(AUDIT_BIN)/python || $(PYTHON) -m venv .venv-audit
	$(AUDIT_BIN)/python -m pip install --quiet --require-hashes -r requirements/pip.txt
	$(AUDIT_BIN)/python -m pip install --quiet --require-hashes -r requirements/audit.txt
	$(AUDIT_BIN)/python tools/audit.py

# Everything: CIFAR-10 only where a GPU is visible (images.cifar10.enabled: auto); on a CPU
# host the simulations, the digits branch, the figures, the claims and the report.
reproduce: setup
	$(SNAKEMAKE)
	$(BIN)/snakemake --report results/report.html

# Everything a CPU can do, even where a GPU is visible: the simulations (C1-C5), the digits
# branch (C6 on real images), their figures and the claims table; no CIFAR-10.
CPU_ONLY := --configfile config/config.yaml config/cpu_only.yaml
simulations: setup
	$(SNAKEMAKE) $(CPU_ONLY)

# The sensitivity study (docs/sensitivity.md): the claims C1-C5 at each point of config
# `sensitivity`, each point one job running this workflow's claims pipeline with its own config;
# then paper_figures/sensitivity.{md,csv} and the verdict map. Not part of `reproduce`.
sensitivity: setup
	$(SNAKEMAKE) sensitivity

# The mechanism study (docs/mechanism.md): the claims C1-C5 at each point of config `mechanism`
# (a factorial design of training budget, training attack and threshold scale), each point one
# job as in the sensitivity study; then paper_figures/mechanism.{md,csv} and the figure
# `mechanism`. Not part of `reproduce`.
mechanism: setup
	$(SNAKEMAKE) mechanism

# Everything with CIFAR-10 forced on (a SLURM driver node without a GPU: docs/slurm.md).
cifar10: setup
	$(SNAKEMAKE) --configfile config/config.yaml config/cifar10_on.yaml

# Staged: lint and dry runs (seconds), then unit tests, then the workflow tests (minutes); a
# stage that fails stops the rest.
test: setup
	$(BIN)/python -m pytest -m lint
	$(BIN)/python -m pytest -m "not lint and not workflow and not slurm"
	$(BIN)/python -m pytest -m "workflow or slurm"

# After changing a plot: the figures and the claims table (only what changed reruns).
figures: setup
	$(SNAKEMAKE) export_figures results/claims.csv $(CPU_ONLY)

dry-run: setup
	$(SNAKEMAKE) --dry-run

lint: setup
	$(BIN)/python -m pytest -m lint

# results/report.html: every figure and table with its caption (report/); runs what is missing.
report: setup
	$(SNAKEMAKE)
	$(BIN)/snakemake --report results/report.html

# results/notebooks/*.html: the notebooks/ walk-throughs executed on this run's results.
notebooks: setup
	$(SNAKEMAKE) notebooks

# docs/config_reference.md from schemas/config.schema.yaml; the cost table in docs/cifar10.md.
docs: setup
	$(BIN)/python -m advpretrain.workflow.config_docs
	$(BIN)/python -m advpretrain.images.cost_table
