# MedUpload: the two commands a newcomer needs are `make run` and `make test` (see README.md).
SHELL := /bin/bash
.DEFAULT_GOAL := help
PYTHON_VENV := .venv/bin/python

.PHONY: help run test setup lint migrate migration requirements audit

help:  ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-13s %s\n", $$1, $$2}'

run:  ## set up what is missing, then serve the app on http://localhost:3000 (PORT=… to change)
	@scripts/run.sh

test:  ## install what the tests need, then run the whole test suite
	@scripts/test.sh $(ARGS)

setup:  ## only the set-up part of `make run` (apt, .venv, pip, bun)
	@scripts/setup.sh

lint:  ## ruff over the code
	@$(PYTHON_VENV) -m ruff check .

migrate:  ## alembic upgrade head on MEDUPLOAD_DATABASE_URL (default data/medupload.db)
	@$(PYTHON_VENV) -m medupload migrate

migration:  ## autogenerate the next migration from medupload/models.py: make migration m="what changed"
	@test -n "$(m)" || { echo 'usage: make migration m="what changed"' >&2; exit 2; }
	@scripts/new-migration.sh "$(m)"

requirements:  ## re-pin requirements.txt from what is installed in .venv
	@{ sed -n '/^#/p' requirements.txt; $(PYTHON_VENV) -m pip freeze --exclude-editable --disable-pip-version-check; } > requirements.txt.new
	@mv requirements.txt.new requirements.txt && $(PYTHON_VENV) -m pip check

audit:  ## known vulnerabilities in requirements.txt (pip-audit; needs PyPI's or OSV's advisory data)
	@scripts/audit.sh
