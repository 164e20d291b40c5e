#!/usr/bin/env bash
# Install HAProxy (Debian's `haproxy` package, 2.6.12 on Debian 12) so the endpoint tests can run
# `haproxy -c` on the rendered gateway config and the e2e can run it in front of vLLM. Idempotent: does
# nothing when haproxy is on PATH. Never starts the system service: policy-rc.d forbids service starts
# during the install, and the service is stopped and disabled afterwards if the package enabled it.
# Usage: scripts/install-haproxy.sh
set -euo pipefail

if command -v haproxy >/dev/null 2>&1; then
  echo "haproxy already installed: $(command -v haproxy)"
  exit 0
fi

if [ "$(id -u)" -eq 0 ]; then
  SUDO=()
else
  SUDO=(sudo)
fi

# Refuse service starts from maintainer scripts (exit 101 = action forbidden), then restore.
policy=/usr/sbin/policy-rc.d
had_policy=0
if [ -e "$policy" ]; then
  had_policy=1
else
  printf '#!/bin/sh\nexit 101\n' | "${SUDO[@]}" tee "$policy" >/dev/null
  "${SUDO[@]}" chmod 0755 "$policy"
fi
cleanup() {
  if [ "$had_policy" -eq 0 ]; then "${SUDO[@]}" rm -f "$policy"; fi
}
trap cleanup EXIT

export DEBIAN_FRONTEND=noninteractive
"${SUDO[@]}" apt-get update
"${SUDO[@]}" apt-get install -y --no-install-recommends haproxy

if command -v systemctl >/dev/null 2>&1 && [ -d /run/systemd/system ]; then
  "${SUDO[@]}" systemctl disable --now haproxy >/dev/null 2>&1 || true
fi

haproxy -v
