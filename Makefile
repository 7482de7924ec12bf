# td3her: `make train` and `make test` set up a fresh machine by themselves.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.install-stamp
ARGS   ?=

.PHONY: install train test test-fast bench results docs readme lint clean

install: $(STAMP)

# uv resolves the same versions as pip and installs them ~4x faster (parallel downloads: 35-44 s
# against 169 s from a fresh clone, one run each beside training); pip when uv cannot.
# --compile-bytecode writes the .pyc files up front, as pip does: without them every process
# compiles TensorFlow's sources again where PYTHONDONTWRITEBYTECODE is set (30 s per import
# against 12 s, beside training).
$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	( $(BIN)/python -m pip install --quiet uv \
	  && $(BIN)/python -m uv pip install --quiet --compile-bytecode --python $(BIN)/python \
	     -e ".[dev]" ) \
	|| ( $(BIN)/python -m pip install --quiet --upgrade pip \
	  && $(BIN)/python -m pip install --quiet -e ".[dev]" )
	touch $(STAMP)

train: install
	$(BIN)/td3her train --env PandaReach-v3 $(ARGS)

# Two pytest workers: most tests wait on one env or one subprocess, so the 2 cores both work.
# tests/conftest.py hands them the tests one at a time, longest first.
test: install
	$(BIN)/python -m pytest -q -n 2 --durations=15

test-fast: install
	$(BIN)/python -m pytest -q -n 2 -m "not slow"

readme: install  # rerun docs/usage.md's sample commands and write their outputs into it
	$(BIN)/python -m tests.readme_samples

bench: install
	$(BIN)/python -m bench --out docs/results/speed.md $(ARGS)

results: install  # BENCHMARKS.md, its curves, README's results table, docs/experiments/README.md
	$(BIN)/python -m tools.results

docs: install  # docs/cli.md and docs/presets.md, generated from the app and presets.toml
	$(BIN)/python -m tools.reference

lint: install
	$(BIN)/ruff check td3her_cli tests bench tools docs/experiments/probes
	$(BIN)/ruff format --check td3her_cli tests bench tools docs/experiments/probes

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache *.egg-info
