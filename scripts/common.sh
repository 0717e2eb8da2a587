# Shared by scripts/run and scripts/test: a Python >= 3.11 virtualenv with the project installed.
# shellcheck shell=bash

VENV=.venv
APT_UPDATED=0

log() { printf '==> %s\n' "$*" >&2; }

is_root_with_apt() { [[ "$(id -u)" == 0 ]] && command -v apt-get >/dev/null; }

apt_install() {
  if [[ "$APT_UPDATED" == 0 ]]; then
    log "apt-get update"
    apt-get update -qq
    APT_UPDATED=1
  fi
  log "apt-get install $*"
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@"
}

python_ok() { "$1" -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; }

find_python() {
  local candidate
  for candidate in python3 python3.13 python3.12 python3.11; do
    if command -v "$candidate" >/dev/null && python_ok "$candidate"; then
      command -v "$candidate"
      return 0
    fi
  done
  return 1
}

ensure_venv() {
  if [[ -x "$VENV/bin/python" ]] && python_ok "$VENV/bin/python"; then
    return 0
  fi
  local python
  if ! python=$(find_python) || ! "$python" -c 'import ensurepip, venv' 2>/dev/null; then
    if ! is_root_with_apt; then
      log "need python3 >= 3.11 with venv support (e.g. sudo apt-get install -y python3 python3-venv)"
      exit 1
    fi
    apt_install python3 python3-venv
    python=$(find_python) || { log "python3 >= 3.11 is not available from apt here"; exit 1; }
  fi
  log "creating $VENV with $python"
  "$python" -m venv "$VENV"
}

install_python_deps() {  # $1: the extras to install, e.g. "[test]" (empty for just the bot)
  log "pip install -c constraints.txt -e .$1"
  "$VENV/bin/python" -m pip install -q --disable-pip-version-check -c constraints.txt -e ".$1"
}

