#!/usr/bin/env bash
# Shared by the install-* scripts: create .tools/NAME with the given pip requirements, once.
# Usage: scripts/tool-venv.sh NAME REQUIREMENT... ; prints the environment's folder.
set -euo pipefail
cd "$(dirname "$0")/.."
name=$1; shift
venv=.tools/$name
if [ ! -f "$venv/.installed" ]; then
  python3 -m venv "$venv"
  "$venv/bin/python" -m pip install --quiet --upgrade pip
  "$venv/bin/python" -m pip install --quiet "$@"
  touch "$venv/.installed"
fi
echo "$PWD/$venv"
