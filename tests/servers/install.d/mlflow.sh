#!/usr/bin/env bash
# MLflow's tracking server as the prompt registry of the mlflow source's tests (pinned), in its
# own venv: the product never imports mlflow, it speaks REST. Does nothing when already installed.
set -euo pipefail
MLFLOW_VERSION=3.17.2
root="$(cd "$(dirname "$0")/../../.." && pwd)"
venv="$root/.venv-mlflow"
stamp="$venv/.installed-$MLFLOW_VERSION"
[ -e "$stamp" ] && exit 0
echo "installing mlflow==$MLFLOW_VERSION into $venv for the integration tests (about 850 MB)"
rm -rf "$venv"
python3 -m venv "$venv"
# pip byte-compiles serially; compileall -j0 uses every core. Compiled, the server starts in
# ~8 s instead of ~24 s, once per test session.
"$venv/bin/python" -m pip install --quiet --disable-pip-version-check --no-compile \
  "mlflow==$MLFLOW_VERSION"
"$venv/bin/python" -m compileall -q -j0 "$venv/lib" >/dev/null 2>&1 || true
"$venv/bin/mlflow" --version >/dev/null
touch "$stamp"
