#!/usr/bin/env bash
# One command to install and start the app, one to install and run every test:
#   bash run.sh app  [streamlit options] [-- --data-dir DIR]
#   bash run.sh test [pytest options]
set -euo pipefail
cd "$(dirname "$0")"

setup() {
  if [ ! -x .venv/bin/python ]; then
    echo ">> creating the virtual environment .venv" >&2
    "${PYTHON:-python3}" -m venv .venv
  fi
  echo ">> installing the pinned requirements (first time: a few minutes, a few GB for torch)" >&2
  .venv/bin/python -m pip install --quiet --disable-pip-version-check -r requirements.txt
}

chromium() {  # the browser tests drive Debian's Chromium; install it when missing and we may
  [ -x /usr/bin/chromium ] && return 0
  local SUDO=""
  if [ "$(id -u)" != 0 ]; then
    if sudo -n true 2>/dev/null; then SUDO="sudo -n"; else
      [ "${CI:-}" = "true" ] && { echo "CI=true: Chromium is missing and cannot be installed" >&2; exit 1; }
      echo ">> Chromium missing and no root: browser tests will be skipped" >&2; return 0
    fi
  fi
  echo ">> installing Debian's chromium for the browser tests" >&2
  $SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq chromium >/dev/null
}

case "${1:-}" in
  app)
    setup; shift
    exec .venv/bin/streamlit run app.py "$@" ;;
  test)
    setup; chromium; shift
    exec .venv/bin/python -m pytest "$@" ;;
  *)
    echo "usage: bash run.sh app|test [options]" >&2; exit 2 ;;
esac
