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

test: $(STAMP)
	$(VENV)/bin/python -m pytest

clean-venv:
	rm -rf $(VENV)
