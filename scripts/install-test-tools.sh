#!/usr/bin/env bash
# Installs the tools some tests need beyond a Rust toolchain, on Debian or Ubuntu:
#   python3                         the Python binding test
#   java, kotlinc 2.4.20, JNA,      the Kotlin binding tests and the quickstart
#   kotlinx-coroutines
#   chromium, chromedriver          the board's browser tests (sync-server/tests/it/board/); with
#   (chromium-driver)               FIELDSYNC_UPDATE_SCREENSHOTS=1 also Noto CJK, the Chinese font
#                                   the screenshots committed under docs/screenshots/ are read in
#   PostgreSQL                      the PostgreSQL storage tests, when no server listens at
#                                   127.0.0.1:5432 and FIELDSYNC_POSTGRES_URL names none: Debian's
#                                   server, started, its `postgres` role given a password that the
#                                   printed FIELDSYNC_POSTGRES_URL carries
# Without them those tests skip with one line naming what is missing (CI sets
# FIELDSYNC_REQUIRE_ALL_TESTS=1, which makes a missing tool fail the run instead).
#
# Prints the environment the tests need; use it as:   eval "$(scripts/install-test-tools.sh)"
set -euo pipefail

as_root() { if [[ $(id -u) -eq 0 ]]; then "$@"; else sudo "$@"; fi; }
note() { printf '%s\n' "$*" >&2; }

missing=()
command -v python3 >/dev/null 2>&1 || missing+=(python3)
command -v java >/dev/null 2>&1 || missing+=(default-jre-headless)
[[ -f /usr/share/java/jna.jar ]] || missing+=(libjna-java)
command -v npm >/dev/null 2>&1 || missing+=(npm)
command -v chromium >/dev/null 2>&1 || missing+=(chromium)
command -v chromedriver >/dev/null 2>&1 || missing+=(chromium-driver)
if [[ "${FIELDSYNC_UPDATE_SCREENSHOTS:-}" == 1 ]] && ! fc-list 2>/dev/null | grep -q "Noto Sans CJK"; then
  missing+=(fonts-noto-cjk)
fi
postgres_listens() { (exec 3<>/dev/tcp/127.0.0.1/5432) 2>/dev/null; }
need_postgres=0
if [[ -z "${FIELDSYNC_POSTGRES_URL:-}" ]] && ! postgres_listens; then
  need_postgres=1
  command -v pg_ctlcluster >/dev/null 2>&1 || missing+=(postgresql)
fi
if ((${#missing[@]})); then
  note "installing ${missing[*]} (apt)"
  as_root apt-get update -q >&2
  as_root apt-get install -y -q "${missing[@]}" >&2
fi

kotlin_home="${FIELDSYNC_KOTLIN:-$HOME/.cache/fieldsync/kotlin}"
kotlin_pkg="$kotlin_home/node_modules/kotlin-compiler"
if [[ ! -x "$kotlin_pkg/bin/kotlinc" ]]; then
  note "installing kotlinc 2.4.20 (npm) into $kotlin_home"
  npm install --silent --no-audit --no-fund --prefix "$kotlin_home" kotlin-compiler@2.4.20 >&2
fi

if ((need_postgres)); then
  note "starting PostgreSQL on 127.0.0.1:5432"
  version="$(ls /etc/postgresql | sort -n | tail -n 1)"
  as_root pg_ctlcluster --skip-systemctl-redirect "$version" main start >&2 || true
  for _ in $(seq 1 30); do postgres_listens && break; sleep 1; done
  # Debian's server asks for a password over TCP: the tests use this one.
  as_root su postgres -c "psql -q -c \"ALTER ROLE postgres PASSWORD 'fieldsync-tests'\"" >&2
  echo "export FIELDSYNC_POSTGRES_URL=\"postgres://postgres:fieldsync-tests@127.0.0.1:5432/postgres\""
fi

echo "export PATH=\"$kotlin_pkg/bin:\$PATH\""
echo "export CLASSPATH=\"/usr/share/java/jna.jar:$kotlin_pkg/lib/kotlinx-coroutines-core-jvm.jar\${CLASSPATH:+:\$CLASSPATH}\""
