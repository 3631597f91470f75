# The two commands a newcomer needs: `make run` and `make test`. Both create .venv and install on first use.
SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.policybot-installed
export HF_HUB_OFFLINE := 1
export TRANSFORMERS_OFFLINE := 1
export PYTHONDONTWRITEBYTECODE := 1

.PHONY: run test lint typecheck pytest install index clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	# torch first, pinned: 2.13.0 is the CPU build on disk; anything else would pull a multi-GB CUDA build.
	$(BIN)/python -m pip install --disable-pip-version-check -q torch==2.13.0
	$(BIN)/python -m pip install --disable-pip-version-check -q -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

run: $(STAMP)
	@url=$$($(BIN)/python -c 'from bot.config import Settings; s = Settings.load(); chat = s.slack_enabled or s.teams_enabled; \
	  print(s.base_url + ("/cases" if not s.console_enabled else "/console" if chat else "/"))'); \
	printf '\n  ==================================================================\n'; \
	printf '   policybot is starting. Open this in your browser:\n\n'; \
	printf '       %s\n\n' "$$url"; \
	printf '   (ready once the model and index have loaded; Ctrl+C stops it)\n'; \
	printf '   Case dashboard sign-in: $(BIN)/policybot cases login --as priya.shah\n'; \
	printf '  ==================================================================\n\n'
	$(BIN)/policybot serve

test: $(STAMP) lint typecheck pytest

lint: $(STAMP)
	$(BIN)/ruff check bot index tests
	$(BIN)/ruff format --check bot index tests

typecheck: $(STAMP)
	$(BIN)/mypy

pytest: $(STAMP)
	$(BIN)/pytest -q

index: $(STAMP)
	$(BIN)/policybot index build

clean:
	rm -rf var/index .pytest_cache .mypy_cache .ruff_cache
