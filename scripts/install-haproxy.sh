#!/usr/bin/env bash
# Install HAProxy (Debian's `haproxy` package, 2.6.12 on Debian 12, its service never started) so the
# endpoint tests can run `haproxy -c` on the rendered gateway config and the e2e can run it in front of
# vLLM. Idempotent.
# Usage: scripts/install-haproxy.sh
set -euo pipefail
exec "$(dirname "$0")/install-debian.sh" haproxy haproxy -v
