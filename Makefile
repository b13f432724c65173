# The two commands of the README:
#   make demo   set up (.venv) and run the CPU demo of the whole pipeline -> results/report.html
#   make test   set up and run the test suite (what CI runs)
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: setup demo test test-fast lint bench reference compare clean-results

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

setup: $(STAMP)

demo: $(STAMP)
	$(BIN)/snakemake --cores 2 --resources gpu=1 --configfile config/demo.yaml
	@echo "report: results/report.html"

# Style first (seconds), then the suite. Browser tests need Debian's chromium; the SLURM tests
# install and start their own cluster (root). The SLURM tests mostly wait for the scheduler (time
# limits, requeue holds: most of their ~13 minutes at a load under 1), so they run in a second pytest
# beside the rest, with BESIDE_SLURM after them (~2 min of pipeline tests that share the session
# fixture tiny_batched_run with the SLURM tests: the two pytests then end together, measured in
# BENCHMARKS.md); its report follows the main one, and either failing fails `make test`. Each prints
# its slowest tests (--durations) for the next one to balance them.
SLURM_TESTS_LOG := .pytest-slurm.log
BESIDE_SLURM := tests/pipeline/test_batches.py
test: lint
	@command -v chromium >/dev/null || { apt-get update -qq && apt-get install -y -qq --no-install-recommends chromium >/dev/null; }
	@export PATH="$(CURDIR)/$(BIN):$$PATH"; \
	$(BIN)/python -m pytest -p no:cacheprovider --durations=15 tests/cluster $(BESIDE_SLURM) > $(SLURM_TESTS_LOG) 2>&1 & slurm=$$!; \
	$(BIN)/python -m pytest --durations=25 -m "not slurm" $(addprefix --ignore=,$(BESIDE_SLURM)); rest=$$?; \
	wait $$slurm; slurm_rc=$$?; \
	echo "---------------- the SLURM tests and $(BESIDE_SLURM) (run beside the others; $(SLURM_TESTS_LOG)) ----------------"; \
	cat $(SLURM_TESTS_LOG); \
	test $$rest -eq 0 -a $$slurm_rc -eq 0

test-fast: $(STAMP)
	PATH="$(CURDIR)/$(BIN):$$PATH" $(BIN)/python -m pytest -m "not slow and not slurm"

# ruff (lint + format) and snakefmt, configured in pyproject.toml; Snakemake's own linter
lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/snakefmt --check .
	$(BIN)/snakemake --lint --cores 1

# The study's scale (400 px x 1000 iterations, config.yaml's matrix) on one GPU, then a compact copy of
# its verdicts, tables and grids in docs/reference/ with the machine and the measured wall time.
reference: $(STAMP)
	@start=$$(date +%s); \
	$(BIN)/snakemake --cores 1 --resources gpu=1 --configfile config/reference.yaml $(REFERENCE_ARGS) && \
	$(BIN)/python -m nst_pipeline.snapshot results docs/reference --wall-seconds $$(( $$(date +%s) - start )) \
		--command "make reference$(if $(REFERENCE_ARGS), REFERENCE_ARGS='$(REFERENCE_ARGS)')"

# Did I reproduce it? Two results (each a results folder or a snapshot), finding by finding and run by
# run within the noise margins (README): make compare A=results B=docs/reference [COMPARE_ARGS="--out DIR"]
# Exit status 0 reproduced, 1 not, 2 bad input.
compare: $(STAMP)
	@test -n "$(A)" -a -n "$(B)" || { echo "usage: make compare A=<results or snapshot> B=<results or snapshot> [COMPARE_ARGS=...]" >&2; exit 2; }
	$(BIN)/python -m nst_pipeline.compare "$(A)" "$(B)" $(COMPARE_ARGS)

bench: $(STAMP)
	$(BIN)/python bench/bench_lbfgs.py

clean-results:
	rm -rf results .snakemake
