#!/usr/bin/env bash
# Install promtool (Debian's `prometheus` package, its server never started) so the monitoring tests can
# run `promtool check rules` and `promtool test rules`. Idempotent.
# Usage: scripts/install-prometheus.sh
set -euo pipefail
exec "$(dirname "$0")/install-debian.sh" prometheus promtool --version
