# Every target creates .venv on first use and installs what it needs, so each
# one works on a fresh clone.  Stamps record which extras are installed; they
# are remade when pyproject.toml changes.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip
PYTEST_ARGS ?=
DEMO_OUT ?= demo_output

.PHONY: help demo test test-min lint format docs docs-noplot bench bench-quick clean

help:
	@echo "make demo        run the seed story end to end, writes plots to $(DEMO_OUT)/"
	@echo "make test        install the test extras and run the test suite"
	@echo "make test-min    run the test suite against the oldest supported scikit-learn (1.6.1)"
	@echo "make lint        ruff check and ruff format --check"
	@echo "make docs        build the HTML docs offline with warnings as errors"
	@echo "make bench       full benchmark suite (LloydKMeans, KSelector); make bench-quick: the quick version"

$(PY):
	$(PYTHON) -m venv $(VENV)
	$(PIP) install --quiet --upgrade pip

$(VENV)/.stamp-%: pyproject.toml | $(PY)
	$(PIP) install --quiet -e ".[$*]"
	@touch $@

# gap-stat (a peer the benchmarks time) is an sdist whose setup.py fails in an
# isolated build under today's setuptools and wheel ("No module named
# 'wheel.wheelfile'"): it is built with older ones, installed in the venv.
$(VENV)/.stamp-bench: pyproject.toml | $(PY)
	$(PIP) install --quiet "setuptools<80" "wheel<0.46"
	$(PIP) install --quiet --no-build-isolation gap-stat
	$(PIP) install --quiet -e ".[bench]"
	@touch $@

demo: $(VENV)/.stamp-plot
	$(PY) -m sklearn_kmeans_lab demo --out $(DEMO_OUT)

test: $(VENV)/.stamp-test
	MPLBACKEND=Agg SCIPY_ARRAY_API=1 $(PY) -m pytest $(PYTEST_ARGS)

# The oldest scikit-learn pyproject.toml declares, in a venv of its own.
MIN_VENV := .venv-min
test-min: pyproject.toml
	test -x $(MIN_VENV)/bin/python || $(PYTHON) -m venv $(MIN_VENV)
	$(MIN_VENV)/bin/python -m pip install --quiet --upgrade pip
	$(MIN_VENV)/bin/python -m pip install --quiet -e ".[test]" "scikit-learn==1.6.1"
	MPLBACKEND=Agg SCIPY_ARRAY_API=1 $(MIN_VENV)/bin/python -m pytest -q -p no:cacheprovider \
		$(PYTEST_ARGS)

lint: $(VENV)/.stamp-lint
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .

format: $(VENV)/.stamp-lint
	$(PY) -m ruff check --fix .
	$(PY) -m ruff format .

docs: $(VENV)/.stamp-docs
	MPLBACKEND=Agg $(PY) -m sphinx -W --keep-going -b html docs docs/_build/html
	MPLBACKEND=Agg $(PY) -m sphinx -W --keep-going -b doctest docs docs/_build/doctest

docs-noplot: $(VENV)/.stamp-docs
	$(PY) -m sphinx -W --keep-going -D plot_gallery=0 -b html docs docs/_build/html

bench: $(VENV)/.stamp-bench
	$(PY) -m benchmarks.run --out benchmarks/results/bench.json
	$(PY) -m benchmarks.bench_kselector --out benchmarks/results/kselector.json
	$(PY) -m benchmarks.check_shared_starts

bench-quick: $(VENV)/.stamp-bench
	$(PY) -m benchmarks.run --quick --out benchmarks/results/bench-quick.json
	$(PY) -m benchmarks.bench_kselector --quick --out benchmarks/results/kselector-quick.json
	$(PY) -m benchmarks.check_shared_starts --quick --seeds 3

clean:
	rm -rf docs/_build docs/generated docs/auto_examples build dist *.egg-info $(DEMO_OUT)
	find sklearn_kmeans_lab -name '*.nbi' -delete -o -name '*.nbc' -delete
