#!/usr/bin/env bash
# Installs Debian's redis-server if it is not on this machine. The tests, the demo and the
# sandbox start their own redis-server processes on loopback; none runs as a service.
set -euo pipefail
if command -v redis-server >/dev/null 2>&1 || [ -x /usr/bin/redis-server ]; then
  exit 0
fi
echo "redlease: installing redis-server (Debian package) ..." >&2
sudo=""
if [ "$(id -u)" != 0 ]; then sudo="sudo"; fi
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
$sudo apt-get install -y -qq redis-server >/dev/null
# The package starts a system service on port 6379; we do not use it.
$sudo systemctl disable --now redis-server >/dev/null 2>&1 || true
redis-server --version >&2
