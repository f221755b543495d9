#!/usr/bin/env bash
# What the browser test (tests/test_plots.py) needs beyond pip: Debian's Chromium, and the
# plotting libraries that `dvc plots show` pages load, from npm (package-lock.json pins them).
set -euo pipefail
cd "$(dirname "$0")"
if ! command -v chromium >/dev/null; then
  sudo=$([ "$(id -u)" = 0 ] || echo sudo)
  packages=(chromium chromium-driver)
  $sudo apt-get install -y -qq "${packages[@]}" >/dev/null ||
    { $sudo apt-get update -qq && $sudo apt-get install -y -qq "${packages[@]}" >/dev/null; }
fi
npm ci --no-audit --no-fund --loglevel=error
