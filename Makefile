# Two entry points open the README: `make demo` and `make test`.
# Each sets up its own virtual environment first, so both work on a fresh clone.

PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python

.PHONY: setup demo test lint unit conformance fuzz hostile load clean

$(PY):
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip

# The package alone (its one dependency is h11), for the demo.
$(VENV)/.installed-run: pyproject.toml setup.py | $(PY)
	$(PY) -m pip install -q -e .
	touch $@

# The package with everything the tests use.
$(VENV)/.installed: pyproject.toml setup.py | $(PY)
	$(PY) -m pip install -q -e ".[test,fuzz]"
	touch $@ $(VENV)/.installed-run

setup: $(VENV)/.installed

demo: $(VENV)/.installed-run
	$(PY) examples/demo.py

lint: setup
	$(PY) -m ruff check src tests bench examples
	$(PY) -m ruff format --check src tests bench examples
	$(PY) -m mypy

# The whole suite: lint, types, every test (Autobahn included), and the
# coverage floor of the core.
test: lint
	$(PY) -m pytest --cov=sansws --cov-branch --cov-report=term
	$(PY) -m coverage report --include='src/sansws/protocol.py,src/sansws/frames.py' --fail-under=100

unit: setup
	$(PY) -m pytest tests/test_protocol.py tests/test_frames.py

# Autobahn|Testsuite, every section, both sides (slow: about 20 minutes).
conformance: setup
	AUTOBAHN_CASES='*' $(PY) -m pytest -m autobahn tests/autobahn -s

# Hostile peers against the asyncio and threaded servers (about 30 s).
hostile: setup
	$(PY) -m pytest tests/hostile -rxX

# Load and soak at full scale: 10,000 connections, a 5-minute soak (about 6 minutes).
load: setup
	LOAD_SCALE=full $(PY) -m pytest tests/load -s -rs

FUZZ_TIME ?= 300
FUZZ_TARGETS := protocol handshake headers

# Each atheris fuzzer for FUZZ_TIME seconds; new inputs and crashes go to .cache/fuzz/.
fuzz: setup
	@for t in $(FUZZ_TARGETS); do \
	  mkdir -p .cache/fuzz/$$t && \
	  $(PY) tests/fuzz/fuzz_$$t.py -max_total_time=$(FUZZ_TIME) -rss_limit_mb=2048 -timeout=10 \
	    -print_final_stats=1 -artifact_prefix=.cache/fuzz/ .cache/fuzz/$$t tests/fuzz/corpus/$$t \
	  || exit 1; \
	done

clean:
	rm -rf $(VENV) .cache build dist reports
