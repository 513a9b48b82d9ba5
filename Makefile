# Two entry points, each creating or refreshing the virtual environment first:
#   make bench   the benchmark suite with its default configuration, and its report
#   make test    the correctness tests
VENV    ?= .venv
PYTHON  ?= python3
# The data archive: $FWBENCH_ARCHIVE if set, else ../shared/data's copy if present,
# else empty (scikit-learn downloads the corpus).
export FWBENCH_ARCHIVE ?= $(abspath $(wildcard ../shared/data/20news-bydate.tar.gz))

STAMP := $(VENV)/.fwbench-installed

.PHONY: venv bench test clean-venv

$(STAMP): pyproject.toml
	test -x $(VENV)/bin/python || $(PYTHON) -m venv $(VENV)
	$(VENV)/bin/python -m pip install -q --upgrade pip
	# torch first and pinned: on these machines only 2.13.0 is a CPU build
	$(VENV)/bin/python -m pip install -q torch==2.13.0
	$(VENV)/bin/python -m pip install -q -e '.[cpu,jax]'
	touch $(STAMP)

venv: $(STAMP)

bench: $(STAMP)
	$(VENV)/bin/fwbench run

# Two pytest workers, each test file whole on one worker (its module fixtures built once): much of
# the suite is single-threaded (imports, subprocesses, data preparation), so two workers use both
# cores of the CI machine; more would oversubscribe the tests that train with every usable core.
TEST_WORKERS ?= 2

test: $(STAMP)
	$(VENV)/bin/python -m pytest -n $(TEST_WORKERS) --dist loadfile

clean-venv:
	rm -rf $(VENV)
