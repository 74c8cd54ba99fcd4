#!/usr/bin/env bash
# Installs the Debian packages the tests and the demo use, if they are missing:
#   redis-server  (tests and `make demo` start private servers on free ports)
#   chromium      (browser tests drive /usr/bin/chromium with playwright-core; no browser download)
#   openssl       (the TLS tests make a throw-away CA)
#   wrk           (`make bench` loads the overhead benchmark with wrk as well as autocannon)
#   valgrind      (`make bench` counts the write path's instructions with callgrind)
# Usage: scripts/system-deps.sh [redis] [chromium] [openssl] [wrk] [valgrind]
#   (default: redis, chromium, openssl)
set -euo pipefail
want=("$@")
[ ${#want[@]} -eq 0 ] && want=(redis chromium openssl)
missing=()
for w in "${want[@]}"; do
  case "$w" in
    redis) command -v redis-server >/dev/null 2>&1 || missing+=(redis-server) ;;
    chromium) [ -x /usr/bin/chromium ] || missing+=(chromium) ;;
    openssl) command -v openssl >/dev/null 2>&1 || missing+=(openssl) ;;
    wrk) command -v wrk >/dev/null 2>&1 || missing+=(wrk) ;;
    valgrind) command -v valgrind >/dev/null 2>&1 || missing+=(valgrind) ;;
  esac
done
[ ${#missing[@]} -eq 0 ] && exit 0
if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null 2>&1; then SUDO=sudo; else
    echo "Missing Debian packages: ${missing[*]}. Install them with: apt-get install -y ${missing[*]}" >&2
    exit 1
  fi
else SUDO=""; fi
echo "Installing Debian packages: ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
