#!/usr/bin/env bash
# Install Debian packages whose services the tests never want running (prometheus for promtool, haproxy
# for the endpoint gateway). Idempotent: does nothing when COMMAND is on PATH. Never starts a service:
# policy-rc.d forbids service starts during the install, and the package's service is stopped and
# disabled afterwards if its scripts enabled it anyway.
# Usage: scripts/install-debian.sh PACKAGE COMMAND VERSION-FLAG
set -euo pipefail
package=$1 command=$2 version_flag=$3

if command -v "$command" >/dev/null 2>&1; then
  echo "$command already installed: $(command -v "$command")"
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
"${SUDO[@]}" apt-get install -y --no-install-recommends "$package"

# Belt and braces: keep the service off wherever systemd is running.
if command -v systemctl >/dev/null 2>&1 && [ -d /run/systemd/system ]; then
  "${SUDO[@]}" systemctl disable --now "$package" >/dev/null 2>&1 || true
fi

"$command" "$version_flag"
