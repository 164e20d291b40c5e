#!/usr/bin/env bash
# checkov pins packages that clash with Pulumi's; it gets its own virtual environment, as a
# container would give it. Idempotent. Prints the path of the checkov executable.
set -euo pipefail
venv=$("$(dirname "$0")/tool-venv.sh" checkov "checkov==3.3.30")
echo "$venv/bin/checkov"
