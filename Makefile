PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test lint unit bench clean lock

# Exactly the versions in requirements.lock, each checked against its hash; then the project.
$(STAMP): pyproject.toml requirements.lock
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --require-hashes -r requirements.lock
	$(BIN)/python -m pip install --quiet --no-deps --no-build-isolation -e .
	touch $(STAMP)

# After changing the dependencies in pyproject.toml: pin them anew, from PyPI only.
lock: $(STAMP)
	$(BIN)/pip-compile --quiet --extra dev --generate-hashes --allow-unsafe --strip-extras \
		--no-emit-find-links --no-emit-index-url --index-url https://pypi.org/simple \
		--output-file requirements.lock pyproject.toml

run: $(STAMP)
	$(BIN)/smsbridge serve

lint: $(STAMP)
	$(BIN)/ruff check bot bridge store tests bench
	$(BIN)/ruff format --check bot bridge store tests bench
	$(BIN)/mypy
	.ci/audit-deps

# Tests run on PYTEST_WORKERS processes (pytest-xdist; "auto": one per core; more than that
# starves the tests that start `smsbridge` processes against their 30 s start-up limit on a
# busy machine). Work stealing evens out the long end-to-end tests between the workers.
PYTEST_WORKERS ?= auto
unit: $(STAMP)
	.ci/ensure-chromium
	.ci/with-postgres $(BIN)/pytest -q -n $(PYTEST_WORKERS) --dist worksteal

test: lint unit

bench: $(STAMP)
	$(BIN)/python bench/inbound_latency.py --out bench/RESULTS.md
	$(BIN)/python bench/steady_ack.py --out bench/RESULTS.md
	$(BIN)/python bench/slack_ack_latency.py --out bench/RESULTS.md
	$(BIN)/python bench/contact_import.py --out bench/RESULTS.md
	$(BIN)/python bench/accept_cost.py --out bench/RESULTS.md
	$(BIN)/python bench/status_cost.py --out bench/RESULTS.md
	$(BIN)/python bench/home_view.py --out bench/RESULTS.md
	$(BIN)/python bench/e2e_latency.py --out bench/RESULTS.md
	$(BIN)/python bench/burst.py --out bench/RESULTS.md
	$(BIN)/python bench/burst_faults.py --out bench/RESULTS.md
	$(BIN)/python bench/memory.py --out bench/RESULTS.md

clean:
	rm -rf $(VENV)
