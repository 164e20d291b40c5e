#!/usr/bin/env bash
# Install promtool (Debian's `prometheus` package) so the monitoring tests can run
# `promtool check rules` and `promtool test rules`. Idempotent: does nothing when promtool is on PATH.
# Never starts the Prometheus server: policy-rc.d forbids service starts during the install, and the
# service is stopped and disabled afterwards if the package's scripts enabled it anyway.
# Usage: scripts/install-prometheus.sh
set -euo pipefail

if command -v promtool >/dev/null 2>&1; then
  echo "promtool already installed: $(command -v promtool)"
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
"${SUDO[@]}" apt-get install -y --no-install-recommends prometheus

# Belt and braces: keep the server off wherever systemd is running.
if command -v systemctl >/dev/null 2>&1 && [ -d /run/systemd/system ]; then
  "${SUDO[@]}" systemctl disable --now prometheus >/dev/null 2>&1 || true
fi

promtool --version
