# The two commands of the README: `make demo` (main job) and `make test` (the default test suite).
# Both create the virtualenv and install what they need on first use.
VENV ?= .venv
PYTHON ?= python3
PY := $(VENV)/bin/python
# CPU build of PyTorch, pinned: an unpinned torch pulls a multi-GB CUDA build (GPU users: see README).
TORCH_SPEC ?= torch==2.13.0

.PHONY: demo test bench lint clean

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet "$(TORCH_SPEC)"
	$(PY) -m pip install --quiet -e ".[test]"
	touch $@

$(VENV)/.installed-bench: $(VENV)/.installed
	$(PY) -m pip install --quiet -e ".[test,bench]"
	touch $@

demo: $(VENV)/.installed
	$(PY) recipes/memorize.py

test: $(VENV)/.installed
	$(PY) -m pytest

bench: $(VENV)/.installed-bench
	$(PY) benchmarks/memory_speed.py

lint: $(VENV)/.installed
	$(VENV)/bin/ruff check titans_seq tests recipes benchmarks
	$(VENV)/bin/ruff format --check titans_seq tests recipes benchmarks

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache .hypothesis outputs
