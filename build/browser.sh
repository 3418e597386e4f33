#!/usr/bin/env bash
# Debian's Chromium and its ChromeDriver, for the review console's browser tests: the distribution's
# own packages, never a browser build downloaded from elsewhere. Needs root (apt); as another user
# it says what to install and the browser tests report what is missing.
set -euo pipefail
if command -v chromium >/dev/null && command -v chromedriver >/dev/null; then
  exit 0
fi
if [ "$(id -u)" != 0 ]; then
  echo "browser: chromium and chromium-driver are not installed, and installing needs root:"
  echo "  sudo apt-get install chromium chromium-driver"
  exit 0
fi
export DEBIAN_FRONTEND=noninteractive
apt-get install -y -qq --no-install-recommends chromium chromium-driver >/dev/null \
  || (apt-get update -qq && apt-get install -y -qq --no-install-recommends chromium chromium-driver >/dev/null)
echo "browser: $(chromium --version), $(chromedriver --version | cut -d' ' -f1-2)"
