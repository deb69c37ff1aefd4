# Two commands on a fresh machine: `make demo` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp

.PHONY: venv test lint typecheck contracts pytest spec-coverage demo bench bench-peer bench-workers soak report-screenshot document-pictures clean messages

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev,sql,cli]'
	touch $(STAMP)

venv: $(STAMP)

test: venv lint typecheck contracts pytest spec-coverage

lint: venv
	$(BIN)/ruff check src tests tools benchmarks
	$(BIN)/ruff format --check src tests tools benchmarks

typecheck: venv
	$(BIN)/mypy

contracts: venv
	$(BIN)/lint-imports

pytest: venv
	$(BIN)/python -m pytest -q

spec-coverage: venv
	$(BIN)/python tools/spec_coverage.py

demo: venv
	$(BIN)/cabinet-billing demo

bench: venv
	$(BIN)/python -m pytest benchmarks -q --benchmark-only --benchmark-columns=min,median,mean,rounds

# The billing state machine (tests/property/test_billing_machine.py) at length: SOAK_STEPS
# steps in all (default a million), then the steps, accounts, events and violations.
SOAK_STEPS ?= 1000000
soak: venv
	CABINET_BILLING_SOAK_STEPS=$(SOAK_STEPS) $(BIN)/python -m pytest -q -s -p no:randomly \
		tests/property/test_billing_machine.py

# A month of renewals side by side with django-silver's month of draft invoices
# (benchmarks/peer.py). The peer is installed from its pinned requirements into a virtual
# environment of its own, .bench/, never into .venv; where that cannot be done the target
# says why and stops without failing.
PEER_REQUIREMENTS ?= $(firstword $(wildcard ../shared/peer/django-silver-requirements.txt /work/shared/peer/django-silver-requirements.txt))
bench-peer: venv
	@if [ -z "$(PEER_REQUIREMENTS)" ]; then \
		echo "bench-peer skipped: no peer/django-silver-requirements.txt in ../shared"; exit 0; fi; \
	if ! .bench/bin/python -c "import silver" 2>/dev/null; then \
		$(PYTHON) -m venv .bench && .bench/bin/python -m pip install --quiet -r $(PEER_REQUIREMENTS) \
		|| { echo "bench-peer skipped: django-silver could not be installed into .bench/"; exit 0; }; \
	fi; \
	$(BIN)/python benchmarks/peer.py

# Billing workers on PostgreSQL (benchmarks/workers.py): a due day of WORKERS_ACCOUNTS
# renewals run by one worker process, then two, WORKERS_ROUNDS times (1, 2, 1, 2 ...);
# prints each pair's throughput ratio and their median, the lock waits per renewal and
# the duplicates and number gaps counted from the database. Needs CABINET_BILLING_PG_DSN;
# without it the target says so and stops without failing.
WORKERS_ACCOUNTS ?= 5000
WORKERS_ROUNDS ?= 3
bench-workers: venv
	@if [ -z "$$CABINET_BILLING_PG_DSN" ]; then \
		echo "bench-workers skipped: set CABINET_BILLING_PG_DSN=postgresql://... (a PostgreSQL server is needed)"; exit 0; fi; \
	$(BIN)/python benchmarks/workers.py --accounts $(WORKERS_ACCOUNTS) --rounds $(WORKERS_ROUNDS)

# The picture of the simulation report in docs/ (needs Chromium: apt-get install chromium).
report-screenshot: venv
	$(BIN)/python tools/report_screenshot.py > /dev/null
	@echo docs/img/simulation-report.png

# The pictures of each document type in docs/ (needs poppler: apt-get install poppler-utils).
document-pictures: venv
	$(BIN)/python tools/document_samples.py --docs

clean:
	rm -rf $(VENV) build dist .mypy_cache .ruff_cache

# The gettext catalogs: extract the message ids from the sources, merge them into each
# language's catalog, compile the .mo files shipped in the package. Commit all three.
LOCALE := src/cabinet_billing/locale
messages: venv
	$(BIN)/pybabel extract --mapping-file=babel.cfg --keyword=N_ --keyword=tr \
		--no-location --sort-output --omit-header --no-wrap \
		--output-file=$(LOCALE)/cabinet_billing.pot src
	$(BIN)/pybabel update --input-file=$(LOCALE)/cabinet_billing.pot --output-dir=$(LOCALE) \
		--domain=cabinet_billing --no-fuzzy-matching --ignore-obsolete --ignore-pot-creation-date --no-wrap
	$(BIN)/pybabel compile --directory=$(LOCALE) --domain=cabinet_billing --statistics
