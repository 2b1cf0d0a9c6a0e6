#!/usr/bin/env bash
# Installs Debian's redis-server if it is not on this machine, and faketime (libfaketime),
# which the chaos suite (crates/redlease-chaos) uses to run a redis-server with a fast clock,
# and openssl, with which the test kit makes a throwaway CA for its TLS servers (redis-cli,
# which creates the kit's Redis Clusters, comes with redis-server as redis-tools).
# The tests, the demo and the sandbox start their own redis-server processes on loopback;
# none runs as a service. Idempotent: does nothing when all are installed.
set -euo pipefail
missing=()
if ! command -v redis-server >/dev/null 2>&1 && [ ! -x /usr/bin/redis-server ]; then
  missing+=(redis-server)
fi
if ! command -v faketime >/dev/null 2>&1 && ! ls /usr/lib/*/faketime/libfaketime.so.1 >/dev/null 2>&1; then
  missing+=(faketime)
fi
if ! command -v openssl >/dev/null 2>&1; then
  missing+=(openssl)
fi
if [ "${#missing[@]}" -eq 0 ]; then
  exit 0
fi
echo "redlease: installing ${missing[*]} (Debian packages) ..." >&2
sudo=""
if [ "$(id -u)" != 0 ]; then sudo="sudo"; fi
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
$sudo apt-get install -y -qq "${missing[@]}" >/dev/null
if [[ " ${missing[*]} " == *" redis-server "* ]]; then
  # The package starts a system service on port 6379; we do not use it.
  $sudo systemctl disable --now redis-server >/dev/null 2>&1 || true
fi
redis-server --version >&2
