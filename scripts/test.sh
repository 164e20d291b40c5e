#!/usr/bin/env bash
# Install everything the test suite needs, from scratch where missing, and run it all:
# the project (.venv, with test extras), promtool/prometheus (Debian), checkov, the vLLM engine and the
# vLLM router (each in its own virtual environment), the Run:ai streamer and an S3 double (moto); then the
# linters (ruff, pyright), the mutation check
# (scripts/mutants.py: every hand-written mutant must be killed), and pytest, end-to-end tests included.
# Arguments go to pytest; with arguments, the linters and the mutation check are skipped.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-prometheus.sh
scripts/install-checkov.sh
scripts/install-vllm.sh
scripts/install-router.sh
scripts/install-streamer.sh
scripts/setup.sh test
if [ "$#" -eq 0 ]; then
  .venv/bin/ruff check .
  .venv/bin/ruff format --check .
  .venv/bin/pyright
  .venv/bin/python scripts/mutants.py --budget 900
fi
exec .venv/bin/python -m pytest -q "$@"
