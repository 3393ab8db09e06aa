#!/usr/bin/env bash
# Make sure headless Chromium and its WebDriver are there for the browser check
# (tests/test_book_browser.py). On Debian/Ubuntu as root, install them with apt;
# elsewhere, say what is missing: the test itself then fails in CI and is
# skipped, with this explanation, on a reader's machine.
set -euo pipefail
have() { command -v "$1" >/dev/null 2>&1; }
if { have chromium || have chromium-browser; } && have chromedriver; then
  exit 0
fi
if have apt-get && [ "$(id -u)" = 0 ]; then
  echo "Installing Debian's chromium and chromium-driver for the browser check..."
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends chromium chromium-driver >/dev/null
  exit 0
fi
echo "note: chromium and chromedriver are not installed and cannot be installed here" >&2
echo "      (need root and apt-get). Install them to run the browser check, e.g." >&2
echo "      'sudo apt-get install chromium chromium-driver' on Debian/Ubuntu." >&2
