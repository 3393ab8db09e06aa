#!/usr/bin/env bash
# Make sure the espeak-ng speech synthesiser is there for Chapter 6b's unseen-voice
# test set (lessons_lib/voices.py, tests/test_voices.py). On Debian/Ubuntu as root,
# install Debian's espeak-ng with apt; elsewhere, say what is missing: the tests then
# fail in CI and are skipped, with this explanation, on a reader's machine.
set -euo pipefail
have() { command -v "$1" >/dev/null 2>&1; }
if have espeak-ng; then
  exit 0
fi
if have apt-get && [ "$(id -u)" = 0 ]; then
  echo "Installing Debian's espeak-ng for the unseen-voice test set..."
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends espeak-ng >/dev/null
  exit 0
fi
echo "note: espeak-ng is not installed and cannot be installed here (need root and apt-get)." >&2
echo "      Install it to synthesise the unseen-voice test set, e.g." >&2
echo "      'sudo apt-get install espeak-ng' on Debian/Ubuntu, 'brew install espeak-ng' on macOS." >&2
