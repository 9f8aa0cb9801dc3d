# Two commands for a newcomer: `make run` and `make test`. Everything else is optional.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed

.PHONY: run test lint token bench clean-data help

help:
	@echo "make run    start PostgreSQL, NATS and the four services (embedded unless DATABASE_URL/NATS_URL)"
	@echo "make test   run the test suite against real PostgreSQL and NATS"
	@echo "make token ROLE=county_admin ORG=610102 [SUB=...]   print a dev JWT"

# Reinstall only when the dependency list changes.
$(STAMP): pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	@$(PY) -m pip install --quiet --disable-pip-version-check --upgrade pip
	@$(PY) -m pip install --quiet --disable-pip-version-check -e '.[dev]'
	@touch $(STAMP)

run: $(STAMP)
	$(PY) -m shared.devstack run

test: $(STAMP)
	@scripts/ensure-chromium.sh
	$(PY) -m pytest $(PYTEST_ARGS)

lint: $(STAMP)
	$(VENV)/bin/ruff check .

# Prints the token and nothing else, so scripts can use $$(make -s token ROLE=...).
token: $(STAMP)
	@$(PY) -m shared.devkeys token --role "$(ROLE)" --org "$(ORG)" $(if $(SUB),--sub "$(SUB)")

clean-data:
	rm -rf .data

# Rewrites docs/benchmarks.md: our command path against a bare FastAPI + asyncpg insert.
bench: $(STAMP)
	$(PY) -m bench.run
