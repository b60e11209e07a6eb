# The two commands (README): `make run` and `make test`. Both do all set-up on a fresh machine.
PY := .venv/bin/python

.PHONY: run test bootstrap lint bench

bootstrap:
	bash scripts/bootstrap.sh

run: bootstrap
	$(PY) manage.py serve

test: bootstrap
	bash scripts/test.sh $(ARGS)

lint: bootstrap
	.venv/bin/ruff check . && .venv/bin/ruff format --check .
