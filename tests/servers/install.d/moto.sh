#!/usr/bin/env bash
# moto's server as the S3 API of the s3 source's tests (pinned), in its own venv: the product
# speaks to it through boto3 only. Does nothing when already installed.
#
# moto[s3] plus moto's server dependencies (Flask, flask-cors), not moto[server]: that extra pulls
# in every service's dependencies (cfn-lint, docker, sympy...) and takes ~45-60 s instead of ~15 s.
set -euo pipefail
MOTO_VERSION=5.2.5
PACKAGES=("moto[s3]==$MOTO_VERSION" "flask==3.1.3" "flask-cors==6.0.5" "werkzeug==3.1.9")
root="$(cd "$(dirname "$0")/../../.." && pwd)"
venv="$root/.venv-moto"
stamp="$venv/.installed-$MOTO_VERSION"
[ -e "$stamp" ] && exit 0
echo "installing moto[s3]==$MOTO_VERSION into $venv for the integration tests"
rm -rf "$venv"
python3 -m venv "$venv"
"$venv/bin/python" -m pip install --quiet --disable-pip-version-check --no-compile "${PACKAGES[@]}"
"$venv/bin/python" -c "import moto.server, moto.s3" >/dev/null
touch "$stamp"
