#!/usr/bin/env bash
# Install the servers the integration tests start on 127.0.0.1 (pinned to Debian 12's packages).
set -euo pipefail
need=()
[ -x /usr/sbin/nginx ] || need+=(nginx-light)
if [ ${#need[@]} -eq 0 ]; then
  exit 0
fi
sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo"
echo "installing ${need[*]} (Debian packages) for the integration tests"
$sudo apt-get update -qq
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
# The package's own service is not wanted: tests start their own nginx on a free port.
$sudo service nginx stop >/dev/null 2>&1 || true
