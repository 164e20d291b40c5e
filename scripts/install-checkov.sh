#!/usr/bin/env bash
# checkov pins packages that clash with Pulumi's; it gets its own virtual environment, as a
# container would give it. Idempotent. Prints the path of the checkov executable.
set -euo pipefail
cd "$(dirname "$0")/.."
VENV=.tools/checkov
if [ ! -x "$VENV/bin/checkov" ]; then
  python3 -m venv "$VENV"
  "$VENV/bin/python" -m pip install --quiet --upgrade pip
  "$VENV/bin/python" -m pip install --quiet "checkov==3.3.30"
fi
echo "$PWD/$VENV/bin/checkov"
