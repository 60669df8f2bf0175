# Two commands reproduce everything from a fresh clone with only Python >= 3.11 and pip:
#   make reproduce   every notebook at the paper's scale (profile full) -> figures/
#   make test        the whole pytest suite, notebooks included (nbval)
#   make lab         open the chapters in JupyterLab
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.smfq-installed
PROFILE ?= full

.PHONY: install test reproduce reproduce-quick lab bench lint clean

install: $(STAMP)

# then compile every Numba kernel once (cached in smfq_lib's __pycache__), so that no chapter,
# test or session waits for it; about a minute, seconds when the cache is already filled
$(STAMP): pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --disable-pip-version-check -e ".[dev]"
	$(PY) -m smfq_lib.chapters.warmup
	@touch $(STAMP)

# the test session writes only to a temporary folder it removes (conftest.py); no .pytest_cache
test: $(STAMP)
	$(PY) -m pytest -p no:cacheprovider --nbval-lax tests notebooks

# the full profile also rewrites README.md's findings from the new figures/*.csv
reproduce: $(STAMP)
	$(PY) -m smfq_lib.reproduce --profile $(PROFILE)
	$(if $(filter full,$(PROFILE)),$(PY) -m smfq_lib.reproduce --summary)

reproduce-quick: $(STAMP)
	$(PY) -m smfq_lib.reproduce --profile quick

# the chapters in JupyterLab; kernels with CurveZMQ transport encryption (no TCP warning)
lab: $(STAMP)
	$(VENV)/bin/jupyter lab --MappingKernelManager.transport_encryption=auto $(if $(filter 0,$(shell id -u)),--allow-root) notebooks

bench: $(STAMP)
	for b in benchmarks/bench_*.py; do $(PY) $$b || exit 1; done

lint: $(STAMP)
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .

clean:
	rm -rf $(VENV) results .pytest_cache
