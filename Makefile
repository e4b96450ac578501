# The two commands of the README: `make reproduce` (the paper) and `make test` (the test suite).
# Both create the pinned environment in .venv/ when it is missing or out of date.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
# Everything `make setup` installs from: a change to any of them re-installs.
SETUP_INPUTS := requirements/dev.lock requirements/job.lock requirements/nodeps.txt pyproject.toml \
	requirements/pip.txt
# (hashed by Python: macOS has no sha256sum)
STAMP := $(VENV)/.installed-$(shell $(PYTHON) -c 'import hashlib, sys; print(hashlib.sha256(b"".join(open(f, "rb").read() for f in sys.argv[1:])).hexdigest()[:16])' $(SETUP_INPUTS))
CORES ?= all
# One configuration and one profile for every target: `make figures` after `make reproduce` must
# see the same settings, or it reruns what they feed. CONFIG: one file or a base and its overlays
# (config/README.md); PROFILE: a workflow profile, e.g. profiles/slurm (docs/slurm.md).
CONFIG ?= config/config.yaml
PROFILE ?=
PROFILE_FLAG := $(if $(PROFILE),--workflow-profile $(PROFILE))
RUN := $(BIN)/snakemake --cores $(CORES) $(PROFILE_FLAG)
# --configfile takes every word after it: targets go before it.
CONFIG_FLAG := --configfile $(CONFIG)
REPORT := $(BIN)/snakemake --report results/report.html $(PROFILE_FLAG) $(CONFIG_FLAG)

.PHONY: help setup lock audit reproduce simulations sensitivity mechanism cifar10 test figures dry-run lint report notebooks docs

help: ## every target, one line each (the text after `##` on its line)
	@awk -F ':.*## ' '/^[a-z0-9-]+:.*## /{printf "%-12s %s\n", $$1, $$2}' $(MAKEFILE_LIST)

setup: $(STAMP) ## the pinned environment in .venv/, when missing or out of date
# .venv: the dev lock (job packages + Snakemake, tests, linters), then torchattacks without its
# stale pins (requirements/nodeps.txt), then this package, editable, without dependencies, built
# by the locked setuptools. The editable install is a .pth file that puts the checkout on sys.path
# (pyproject.toml, [tool.setuptools]), so Snakemake's script preamble hands it on to jobs running
# in the conda env (envs/workflow.yaml); the next line checks that from another directory.
# Last, pip itself is upgraded to requirements/pip.txt (the bundled one has a CVE). Every pin
# file carries the sha256 of each file pip may take (tools/lock.py): --require-hashes refuses
# any other bytes.
$(STAMP): $(SETUP_INPUTS)
	@$(PYTHON) -c 'import sys; assert (3, 11, 7) <= sys.version_info[:3] < (3, 12), "Python 3.11.7 or a later 3.11 is required (the locks are for CPython 3.11.7+); set PYTHON=python3.11"'
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --require-hashes -r requirements/dev.lock
	$(BIN)/python -m pip install --quiet --require-hashes --no-deps -r requirements/nodeps.txt
	$(BIN)/python -m pip install --quiet --no-deps --no-build-isolation \
		--config-settings editable_mode=lenient -e .
	cd / && $(CURDIR)/$(BIN)/python -c 'import sys; assert "$(CURDIR)" in sys.path, "the editable install did not put $(CURDIR) on sys.path"'
	$(BIN)/python -m pip install --quiet --require-hashes -r requirements/pip.txt
	rm -f $(VENV)/.installed-* && touch $@

# Every pin file of requirements/ from its .in file, then envs/{workflow,dev}.yaml from the locks:
# uv's universal resolution with hashes (tools/lock.py; uv is .venv's). Versions stay unless an
# .in file moves them (`make lock LOCK_FLAGS=--upgrade` moves all). Commit the results; the next
# `make` re-installs .venv.
LOCK_FLAGS ?=
lock: setup ## regenerate requirements/*.{lock,txt} and envs/*.yaml from requirements/*.in (uv)
	$(BIN)/python tools/lock.py $(LOCK_FLAGS)

# The pinned packages (requirements/) against a vulnerability database, with pip-audit from its
# own .venv-audit (requirements/audit.txt); tools/audit.py says plainly when no vulnerability
# service is reachable (nothing checked: exit 2), a known vulnerability exits 1.
AUDIT_BIN := .venv-audit/bin
audit: ## the pinned packages against a vulnerability database
	test -x $(AUDIT_BIN)/python || $(PYTHON) -m venv .venv-audit
	$(AUDIT_BIN)/python -m pip install --quiet --require-hashes -r requirements/pip.txt
	$(AUDIT_BIN)/python -m pip install --quiet --require-hashes -r requirements/audit.txt
	$(AUDIT_BIN)/python tools/audit.py

# Everything: CIFAR-10 only where a GPU is visible (images.cifar10.enabled: auto); on a CPU
# host the simulations, the digits branch, the figures, the claims, the notebooks and the report.
reproduce: setup ## the paper: every result, figure, the claims, the notebooks and the report
	$(RUN) all notebooks $(CONFIG_FLAG)
	$(REPORT)

# Everything a CPU can do, even where a GPU is visible: the simulations (C1-C5), the digits
# branch (C6 on real images), their figures and the claims table; no CIFAR-10.
simulations: setup ## everything a CPU can do, even where a GPU is visible (no CIFAR-10)
	$(RUN) --configfile $(CONFIG) config/cpu_only.yaml

# The sensitivity study (docs/sensitivity.md): the claims C1-C5 at each point of config
# `sensitivity`, each point one job running this workflow's claims pipeline with its own config;
# then paper_figures/sensitivity.{md,csv} and the verdict map. Not part of `reproduce`.
sensitivity: setup ## the sensitivity study (docs/sensitivity.md; not part of reproduce)
	$(RUN) sensitivity $(CONFIG_FLAG)

# The mechanism study (docs/mechanism.md): the claims C1-C5 at each point of config `mechanism`
# (a factorial design of training budget, training attack and threshold scale), each point one
# job as in the sensitivity study; then paper_figures/mechanism.{md,csv} and the figure
# `mechanism`. Not part of `reproduce`.
mechanism: setup ## the mechanism study (docs/mechanism.md; not part of reproduce)
	$(RUN) mechanism $(CONFIG_FLAG)

# Everything with CIFAR-10 forced on, e.g. from a SLURM driver node without a GPU:
# `make cifar10 PROFILE=profiles/slurm` (docs/slurm.md).
cifar10: setup ## everything with CIFAR-10 forced on (a SLURM driver: PROFILE=profiles/slurm)
	$(RUN) --configfile $(CONFIG) config/cifar10_on.yaml

# Staged: lint and dry runs (seconds), then unit tests, then the workflow tests (minutes); a
# stage that fails stops the rest. Lint and unit tests on every core (pytest-xdist, at most 4
# workers); the workflow stage as two pytest runs side by side (tools/side_by_side.py): the
# shared test build's tests, built once, and every other workflow and SLURM test (each Snakemake
# run of a test uses 2 cores).
PYTEST := $(BIN)/python -m pytest
XDIST := --numprocesses auto --maxprocesses 4
WORKFLOW_TESTS := (workflow or slurm)
test: setup ## the test suite: lint and dry runs, unit tests, workflow tests
	$(PYTEST) $(XDIST) -m lint
	$(PYTEST) $(XDIST) -m "not lint and not workflow and not slurm"
	$(BIN)/python tools/side_by_side.py \
		'shared build=$(PYTEST) -m "$(WORKFLOW_TESTS) and shared_build"' \
		'other=$(PYTEST) -m "$(WORKFLOW_TESTS) and not shared_build"'

# After changing a plot: the figures and the claims table (only what changed reruns).
figures: setup ## after a plot change: the figures and the claims table, only what changed
	$(RUN) export_figures results/claims.csv $(CONFIG_FLAG)

dry-run: setup ## what reproduce would run, without running it
	$(RUN) --dry-run all notebooks $(CONFIG_FLAG)

lint: setup ## the lint stage of the tests alone (seconds)
	$(PYTEST) $(XDIST) -m lint

# results/report.html: every figure and table with its caption (report/), from a finished build
# (`make reproduce` writes it too).
report: setup ## results/report.html from a finished build
	$(REPORT)

# results/notebooks/*.html: the notebooks/ walk-throughs executed on this run's results.
notebooks: setup ## the notebooks/ walk-throughs executed on this build's results
	$(RUN) notebooks $(CONFIG_FLAG)

# docs/config_reference.md from schemas/config.schema.yaml; the cost table in docs/cifar10.md.
docs: setup ## regenerate docs/config_reference.md and the cost table of docs/cifar10.md
	$(BIN)/python -m advpretrain.workflow.config_docs
	$(BIN)/python -m advpretrain.images.cost_table
