PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test lint unit bench clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

run: $(STAMP)
	$(BIN)/smsbridge serve

lint: $(STAMP)
	$(BIN)/ruff check bot bridge store tests bench
	$(BIN)/ruff format --check bot bridge store tests bench
	$(BIN)/mypy

unit: $(STAMP)
	.ci/ensure-chromium
	.ci/with-postgres $(BIN)/pytest -q

test: lint unit

bench: $(STAMP)
	$(BIN)/python bench/inbound_latency.py --out bench/RESULTS.md
	$(BIN)/python bench/slack_ack_latency.py --out bench/RESULTS.md
	$(BIN)/python bench/contact_import.py --out bench/RESULTS.md
	$(BIN)/python bench/accept_cost.py --out bench/RESULTS.md
	$(BIN)/python bench/status_cost.py --out bench/RESULTS.md
	$(BIN)/python bench/home_view.py --out bench/RESULTS.md

clean:
	rm -rf $(VENV)
