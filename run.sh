#!/usr/bin/env bash
# One command to install and start the app, one to install and run every test:
#   bash run.sh app  [streamlit options] [-- --data-dir DIR]
#   bash run.sh test [pytest options]
#   bash run.sh class [N] [--port 8501] [--listen ADDR] [-- app options]   N replicas behind nginx (deploy/classroom.py)
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

need_nginx() {  # `class` and tests/test_proxy.py put Debian's nginx in front of the replicas; install it like Chromium
  command -v nginx >/dev/null || [ -x /usr/sbin/nginx ] && return 0
  local SUDO=""
  if [ "$(id -u)" != 0 ]; then
    if sudo -n true 2>/dev/null; then SUDO="sudo -n"; else
      [ "${CI:-}" = "true" ] && { echo "CI=true: nginx is missing and cannot be installed" >&2; exit 1; }
      [ "${1:-}" = required ] && { echo "nginx is missing and cannot be installed without root: apt-get install -y nginx" >&2; exit 1; }
      echo ">> nginx missing and no root: the proxy test will be skipped" >&2; return 0
    fi
  fi
  # only the package: our nginx runs from the run folder as the user (on a host with systemd the package also
  # starts Debian's own nginx service on port 80, which is not ours)
  echo ">> installing Debian's nginx for the replicated set-up" >&2
  $SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq nginx >/dev/null
}

case "${1:-}" in
  app)
    setup; shift
    # 2 malloc arenas: a server's memory comes back after a class leaves (deploy/classroom.py, bench/CLASS_PROFILE.md)
    MALLOC_ARENA_MAX="${MALLOC_ARENA_MAX:-2}" exec .venv/bin/streamlit run serve.py "$@" ;;
  test)
    setup; chromium; need_nginx; shift
    exec .venv/bin/python -m pytest "$@" ;;
  class)
    setup; need_nginx required; shift
    exec .venv/bin/python deploy/classroom.py "$@" ;;
  *)
    echo "usage: bash run.sh app|test|class [options]" >&2; exit 2 ;;
esac
