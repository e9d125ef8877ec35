#!/usr/bin/env bash
# Headless Chromium for the browser tests: Debian's chromium and chromium-driver (same version,
# /usr/bin/chromium and /usr/bin/chromedriver). Selenium drives them as they are: no browser or
# driver is ever downloaded at test time. Does nothing when both are installed.
set -euo pipefail
[ -x /usr/bin/chromium ] && [ -x /usr/bin/chromedriver ] && exit 0
sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo"
echo "installing chromium and chromium-driver (Debian packages) for the browser tests"
$sudo apt-get update -qq
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends \
  chromium chromium-driver >/dev/null
/usr/bin/chromium --version >/dev/null
/usr/bin/chromedriver --version >/dev/null
