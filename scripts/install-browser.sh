#!/usr/bin/env bash
# Debian's Chromium for the web chat browser test (never a downloaded browser). Idempotent.
set -euo pipefail
if command -v chromium >/dev/null 2>&1; then exit 0; fi
echo "[setup] installing Debian chromium for browser tests"
apt-get update -qq
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
