#!/usr/bin/env bash
# Make sure a C compiler is there before pip installs the course's requirements: the `pesq`
# package (PESQ-NB, Chapter 7c's vocoder quality score) has no wheels and builds from source.
# On Debian/Ubuntu as root, install Debian's gcc (build-essential) with apt; elsewhere, say what
# is missing: pip then fails to build pesq, with this explanation above its error.
set -euo pipefail
have() { command -v "$1" >/dev/null 2>&1; }
if have cc || have gcc; then
  exit 0
fi
if have apt-get && [ "$(id -u)" = 0 ]; then
  echo "Installing Debian's C compiler (build-essential) to build the pesq package..."
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends build-essential >/dev/null
  exit 0
fi
echo "note: no C compiler is installed and none can be installed here (need root and apt-get)." >&2
echo "      The pesq package builds from source: install one, e.g." >&2
echo "      'sudo apt-get install build-essential' on Debian/Ubuntu, 'xcode-select --install' on macOS." >&2
