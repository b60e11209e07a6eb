#!/usr/bin/env bash
# Checks the import layering, then runs the whole suite with whatever services the environment
# names (none: embedded defaults).
# pytest's exit code 5 ("no tests collected") is turned into a failure.
set -uo pipefail
cd "$(dirname "$0")/.."
export HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 TOKENIZERS_PARALLELISM=false
# The layering contracts of pyproject.toml ([tool.importlinter]) first: an upward import fails.
.venv/bin/lint-imports --no-cache || { echo "import layering broken: see above" >&2; exit 1; }
# One test process per core (at most 4: each holds its own test database, Redis database and var
# dir, tests.xdist_isolation), a file's tests on one process so its module fixtures start once.
.venv/bin/python -m pytest -n auto --maxprocesses 4 --dist loadfile "$@"
rc=$?
if [ "$rc" -eq 5 ]; then echo "no tests were collected: failing"; exit 1; fi
exit "$rc"
