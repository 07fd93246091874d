# Quick start: `make demo` and `make test` on a fresh machine with Python 3.11.
PY ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp

.PHONY: install demo test lint format bench lock clean train-injection

$(STAMP): requirements/dev.lock pyproject.toml
	@test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --require-hashes --no-deps -r requirements/dev.lock
	$(BIN)/python -m pip install --quiet --no-deps -e .
	@touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	$(BIN)/bastion demo

lint: $(STAMP)
	$(BIN)/ruff check src tests bench training
	$(BIN)/ruff format --check src tests bench training
	$(BIN)/mypy

# Two workers (pytest-xdist), each test file on one worker: files share no state but
# the services', and every test makes its own databases, ports and receivers.
test: lint
	$(BIN)/pytest -n 2 --dist loadfile

format: $(STAMP)
	$(BIN)/ruff check --fix src tests bench
	$(BIN)/ruff format src tests bench

bench: $(STAMP)
	$(BIN)/python bench/gateway_overhead.py
	$(BIN)/python bench/audit_append.py

# Retrain the injection classifier from the public data (deterministic; prints hashes).
# Pin the printed manifest hash as DEFAULT_MODEL_SHA256 in scanners/injection/model.py.
DATA ?= /work/shared/data
train-injection: $(STAMP)
	$(BIN)/python training/train_injection.py $(DATA)

# Re-pin dependencies after editing pyproject.toml (needs network to PyPI).
lock: $(STAMP)
	$(BIN)/python -m pip install --quiet uv==0.13.8
	$(BIN)/uv pip compile pyproject.toml --extra dev --python-version 3.11 \
		--override requirements/overrides.txt \
		--generate-hashes -o requirements/dev.lock
	$(BIN)/uv pip compile pyproject.toml --python-version 3.11 \
		--override requirements/overrides.txt \
		--generate-hashes -o requirements/runtime.lock

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache
