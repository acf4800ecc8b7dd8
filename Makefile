# Setup and run commands named in the README. Each target sets up what it needs first (a virtual
# environment in .venv, installed once and again only when pyproject.toml changes).
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
# torch first: a CPU-only machine gets the CPU build here, a GPU machine the CUDA build. Installed
# after the package, a bare "torch" requirement could pull a different multi-GB build.
TORCH ?= torch==2.13.0
FACE_ALIGNMENT := face-alignment>=1.4
CORES ?= all
SNAKEMAKE_ARGS ?=
PYTEST_ARGS ?=
export PATH := $(abspath $(BIN)):$(PATH)

.PHONY: venv sample test lint format bench clean-sample

venv: $(BIN)/.installed

$(BIN)/.installed: pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet "$(TORCH)"
	$(BIN)/python -m pip install --quiet -e ".[dev,fan]"
	# face-alignment's own requirements would replace opencv-python-headless with opencv-python;
	# the extra fan installs what it needs instead.
	$(BIN)/python -m pip install --quiet --no-deps "$(FACE_ALIGNMENT)"
	touch $@

## Run the sample experiment end to end (config/experiments/sample.yaml; CPU, a few minutes).
sample: venv
	snakemake --cores $(CORES) --configfile config/experiments/sample.yaml $(SNAKEMAKE_ARGS)

## Run the test suite (lint, unit, integration, workflow, SLURM).
test: venv
	pytest $(PYTEST_ARGS)

lint: venv
	ruff check .
	ruff format --check .
	snakefmt --check Snakefile workflow
	snakemake --lint

format: venv
	ruff format .
	ruff check --fix .
	snakefmt Snakefile workflow

## Benchmarks: each prints a row for BENCHMARKS.md.
bench: venv
	for script in bench/bench_*.py; do python $$script || exit 1; done

# The sample experiment and the data sets it prepares (sample, sample_corpus).
clean-sample:
	rm -rf data/sample data/raw/sample data/raw/sample_corpus data/interim/sample \
		data/interim/sample_corpus data/manifests/sample.tsv data/manifests/sample_corpus.tsv \
		results/datasets/sample results/datasets/sample_corpus results/experiments/sample \
		logs/datasets/sample logs/datasets/sample_corpus logs/experiments/sample
