#!/usr/bin/env bash
# The real vLLM router (vllm-router from PyPI, the version catalog/data/routers.yaml names) in its own
# virtual environment: the end-to-end routing test and benchmarks/routing.py run it in front of two
# vLLM servers. Idempotent. Prints the path of its console script.
set -euo pipefail
venv=$("$(dirname "$0")/tool-venv.sh" vllm-router "vllm-router==0.1.17")
echo "$venv/bin/vllm-router"
