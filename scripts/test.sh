#!/usr/bin/env bash
# Install everything the test suite needs, from scratch where missing, and run it all:
# the project (.venv, with test extras), promtool/prometheus (Debian), checkov and the vLLM engine
# (each in its own virtual environment), then pytest, end-to-end tests included.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-prometheus.sh
scripts/install-checkov.sh
scripts/install-vllm.sh
scripts/setup.sh test
exec .venv/bin/python -m pytest -q "$@"
