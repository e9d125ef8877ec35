#!/usr/bin/env bash
# Install the servers the integration tests start on 127.0.0.1 (pinned to Debian 12's packages).
set -euo pipefail
need=()
[ -x /usr/sbin/nginx ] || need+=(nginx-light)
# Only its promtool is used: it lints the daemon's /metrics (about 19 MB, 96 MB installed).
[ -x /usr/bin/promtool ] || need+=(prometheus)
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
# Nor is the Prometheus server (nor its node exporter, should recommends pull it in): stop them
# and keep them from starting at boot.
for service in prometheus prometheus-node-exporter; do
  $sudo service "$service" stop >/dev/null 2>&1 || true
  $sudo systemctl disable "$service" >/dev/null 2>&1 || $sudo update-rc.d "$service" disable >/dev/null 2>&1 || true
done
