#!/usr/bin/env bash
# The whole test suite, from a fresh clone: installs what is missing, then runs pytest twice:
#   1. on the embedded default (SQLite + in-memory channel layer, no services);
#   2. on the production stack (PostgreSQL + Redis), installing and starting them if needed.
# Tests marked `redis` or `postgres` start or use those services themselves (their own
# databases and redis-server processes), whatever the stack, so they run once, in pass 2.
# This is the README's test command; .ci/run calls it. Arguments go to both pytest runs
# (e.g. `bash tests/run.sh tests/test_health.py -x`).
# Environment: STACKS="default postgres" (which passes to run), TEST_PARALLEL=0 (run the
# passes one after the other, with live output; by default they run at the same time:
# on 2 cores, 8.6 min instead of 17 with other work loading the machine),
# TEST_PG_URL (server for test databases, default postgres://postgres@127.0.0.1:5432),
# TEST_REDIS_URL (default redis://127.0.0.1:6379/0). With CI=true every test that needs a
# service must run.
set -euo pipefail
cd "$(dirname "$0")/.."

as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }
apt_install() {
  as_root apt-get update -qq
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null
}

STACKS=${STACKS:-default postgres}
USER_PG_URL=${TEST_PG_URL:-}
PG_SERVER=${TEST_PG_URL:-postgres://postgres@127.0.0.1:5432}
REDIS_SERVER=${TEST_REDIS_URL:-redis://127.0.0.1:6379/0}
export TEST_PG_URL=$PG_SERVER

# Headless Chromium from Debian (never a downloaded browser) for the browser tests.
if [ ! -x /usr/bin/chromium ]; then
  apt_install chromium
fi

# GNU gettext's msgfmt: tests/test_i18n.py checks the committed .mo files against the .po.
if ! command -v msgfmt >/dev/null; then
  apt_install gettext
fi

# axe-core for the accessibility checks (tests/test_ui_browser.py), pinned in
# tests/js/package.json + package-lock.json. Node also runs the scripts' unit tests.
if [ ! -d tests/js/node_modules/axe-core ]; then
  if ! command -v npm >/dev/null; then apt_install nodejs npm; fi
  (cd tests/js && npm ci --no-audit --no-fund --loglevel=error)
fi

PYTHON=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
  # Debian's Python needs python3-venv for `venv` (with pip); a fresh machine may lack it.
  "$PYTHON" -m venv .venv || { rm -rf .venv; apt_install python3-venv; "$PYTHON" -m venv .venv; }
fi
.venv/bin/pip install -q --disable-pip-version-check -r requirements-dev.txt
PY=.venv/bin/python

pg_ready() { "$PY" -c "import psycopg,sys; psycopg.connect(sys.argv[1] + '/postgres', connect_timeout=3).close()" "$PG_SERVER" 2>/dev/null; }
redis_ready() { "$PY" -c "import redis,sys; redis.Redis.from_url(sys.argv[1], socket_connect_timeout=3).ping()" "$REDIS_SERVER" 2>/dev/null; }
wait_for() { for _ in $(seq 60); do "$@" && return 0; sleep 0.5; done; return 1; }

start_services() {
  # redis-server: the binary is also what tests that crash Redis start on their own ports.
  if ! command -v redis-server >/dev/null; then apt_install redis-server; fi
  if ! redis_ready; then
    echo "run.sh: starting redis-server on 127.0.0.1:6379"
    redis-server --daemonize yes --bind 127.0.0.1 --port 6379 --save "" --appendonly no >/dev/null
    wait_for redis_ready || { echo "run.sh: Redis at $REDIS_SERVER is not reachable" >&2; exit 1; }
  fi
  if ! pg_ready; then
    if ! command -v pg_ctlcluster >/dev/null || [ -z "$(ls /etc/postgresql 2>/dev/null)" ]; then
      apt_install postgresql
      # A fresh Debian cluster asks for a password over TCP: give the postgres role one.
      as_root su postgres -c "psql -qc \"ALTER USER postgres PASSWORD 'postgres'\"" || true
      if [ -z "$USER_PG_URL" ]; then
        PG_SERVER=postgres://postgres:postgres@127.0.0.1:5432
        export TEST_PG_URL=$PG_SERVER
      fi
    fi
    if ! pg_ready; then
      echo "run.sh: starting PostgreSQL"
      as_root pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | sort -V | tail -1)" main start || true
      wait_for pg_ready || { echo "run.sh: PostgreSQL at $PG_SERVER is not reachable" >&2; exit 1; }
    fi
  fi
}

# Unique per run, so concurrent runs on one machine never share a database or a prefix.
export TEST_RUN_ID=${TEST_RUN_ID:-$(date +%s)$$}
# With DEBUG off (as in tests) the settings refuse to start without a key: one random key
# per run, for both passes and every server process they start.
export SECRET_KEY=${SECRET_KEY:-$("$PY" -c "import secrets; print(secrets.token_urlsafe(50))")}
status=0
ran=0
verdict() {  # verdict NAME RC: pytest's 0 passed, 5 nothing selected, anything else failed
  if [ "$2" = 5 ]; then
    echo "run.sh: $1: no test selected"
  elif [ "$2" != 0 ]; then
    echo "run.sh: $1 FAILED (pytest exit $2)"
    status=1
  else
    ran=1
  fi
}

pass_default() {
  env -u DATABASE_URL -u REDIS_URL -u CHANNEL_LAYER_PREFIX \
    "$PY" -m pytest -m "not redis and not postgres" "$@"
}
pass_postgres() {
  # pytest-django creates (and drops) test_chat_<run id> on that server. Files whose tests
  # never read DATABASE_URL/REDIS_URL (the bench smoke run brings its own SQLite and
  # redis-server; settings parsing; the CI-skip check) ran in pass 1 already.
  env DATABASE_URL="$PG_SERVER/chat_$TEST_RUN_ID" REDIS_URL="$REDIS_SERVER" \
    CHANNEL_LAYER_PREFIX="chat_$TEST_RUN_ID" "$PY" -m pytest \
    --deselect tests/test_bench_smoke.py --deselect tests/test_scale_ci.py \
    --deselect tests/test_scale_settings.py "$@"
}
describe() {
  case $1 in
    default) echo "embedded default (SQLite + in-memory layer)" ;;
    postgres) echo "production stack (PostgreSQL + Redis)" ;;
    *) echo "run.sh: unknown stack $1" >&2; exit 2 ;;
  esac
}

for stack in $STACKS; do
  describe "$stack" >/dev/null
  if [ "$stack" = postgres ]; then start_services; fi
done

if [ "${TEST_PARALLEL:-1}" = 1 ] && [ "$(wc -w <<<"$STACKS")" -gt 1 ]; then
  # Both passes at once, each into its own log (printed when both are done): much of each
  # pass is waiting on servers, browsers and timeouts, so they overlap well.
  logs=$(mktemp -d)
  echo "run.sh: running the passes ($STACKS) at once; their output follows when both end"
  for stack in $STACKS; do
    ( rc=0; "pass_$stack" "$@" >"$logs/$stack.log" 2>&1 || rc=$?; echo "$rc" >"$logs/$stack.rc" ) &
  done
  wait
  for stack in $STACKS; do
    echo "=== run.sh: $(describe "$stack") ==="
    cat "$logs/$stack.log"
    verdict "$(describe "$stack")" "$(cat "$logs/$stack.rc")"
  done
  rm -rf "$logs"
else
  for stack in $STACKS; do
    echo "=== run.sh: $(describe "$stack") ==="
    rc=0
    "pass_$stack" "$@" || rc=$?
    verdict "$(describe "$stack")" "$rc"
  done
fi

if [ "$status" = 0 ] && [ "$ran" = 0 ]; then
  echo "run.sh: no test ran at all" >&2
  exit 5
fi
exit $status
