#!/usr/bin/env bash
# Installs the tools some tests need beyond a Rust toolchain, on Debian or Ubuntu:
#   python3                         the Python binding test
#   java, kotlinc 2.4.20, JNA,      the Kotlin binding tests and the quickstart
#   kotlinx-coroutines
#   chromium, chromedriver          the board's browser tests (sync-server/tests/it/board/); with
#   (chromium-driver)               FIELDSYNC_UPDATE_SCREENSHOTS=1 also Noto CJK, the Chinese font
#                                   the screenshots committed under docs/screenshots/ are read in
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

echo "export PATH=\"$kotlin_pkg/bin:\$PATH\""
echo "export CLASSPATH=\"/usr/share/java/jna.jar:$kotlin_pkg/lib/kotlinx-coroutines-core-jvm.jar\${CLASSPATH:+:\$CLASSPATH}\""
