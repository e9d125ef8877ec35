#!/usr/bin/env bash
# Install the servers the integration tests start on 127.0.0.1 (pinned to Debian 12's packages),
# then run install.d/*.sh: servers with installers of their own (separate venvs, npm packages).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
need=()
[ -x /usr/sbin/nginx ] || need+=(nginx-light)
# promtool lints the daemon's /metrics; the server itself is tests/servers/prometheus.py's.
[ -x /usr/bin/promtool ] || need+=(prometheus)
# The session's PostgreSQL cluster (tests/servers/postgres.py): Unleash and other tests use it.
[ -x /usr/lib/postgresql/15/bin/postgres ] || need+=(postgresql-15)
# Signed revisions: ssh-keygen signs and verifies test commits; gpg checks OpenPGP ones.
command -v ssh-keygen >/dev/null || need+=(openssh-client)
command -v gpg >/dev/null || need+=(gnupg)
if [ ${#need[@]} -gt 0 ]; then
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  echo "installing ${need[*]} (Debian packages) for the integration tests"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
  # The packages' own services are not wanted: tests start their own servers on free ports.
  for service in nginx prometheus prometheus-node-exporter postgresql; do
    $sudo service "$service" stop >/dev/null 2>&1 || true
    $sudo systemctl disable "$service" >/dev/null 2>&1 || $sudo update-rc.d "$service" disable >/dev/null 2>&1 || true
  done
fi
for script in "$here"/install.d/*.sh; do
  [ -e "$script" ] && bash "$script"
done
exit 0
