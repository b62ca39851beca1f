#!/usr/bin/env bash
# Runs every fuzz target for a bounded time: fuzz/run.sh [seconds-per-target] [target...]
# (default 60 s, all targets). Installs cargo-fuzz if it is missing; uses the nightly toolchain,
# or stable with RUSTC_BOOTSTRAP=1 when there is no nightly. New inputs that find new coverage
# are added to fuzz/corpus/<target>; a crash is saved in fuzz/artifacts/<target>/ and makes the
# script exit non-zero (after the other targets ran). See fuzz/README.md.
#
# Environment: FUZZ_JOBS (parallel jobs per target, default 1), FUZZ_RSS_MB (memory limit,
# default 2048), FUZZ_TIMEOUT (seconds one input may take, default 10), FUZZ_SANITIZER (none or
# address, default none), FUZZ_STRICT_PANICS=1 (a panic the product catches is a crash too),
# FUZZ_TARGET_DIR (default fuzz/target), FUZZ_AS_DEPLOYED=1 (build as released: without debug
# assertions and overflow checks, so arithmetic wraps as it does in the server).
set -euo pipefail

here="$(cd "$(dirname "$0")" && pwd)"
root="$(dirname "$here")"
seconds="${1:-60}"
shift || true
targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
    targets=(envelope ingest merge_remote peer)
fi
jobs="${FUZZ_JOBS:-1}"
rss="${FUZZ_RSS_MB:-2048}"
timeout="${FUZZ_TIMEOUT:-10}"
sanitizer="${FUZZ_SANITIZER:-none}"
build=()
if [ "${FUZZ_AS_DEPLOYED:-0}" = 1 ]; then
    build=(-O)
fi

if ! cargo fuzz --version >/dev/null 2>&1; then
    echo "installing cargo-fuzz" >&2
    cargo install cargo-fuzz --locked
fi

toolchain=()
if rustup toolchain list 2>/dev/null | grep -q '^nightly'; then
    toolchain=(+nightly)
else
    echo "no nightly toolchain: using stable with RUSTC_BOOTSTRAP=1" >&2
    export RUSTC_BOOTSTRAP=1
fi

# Its own target dir (the fuzz build's flags differ from the workspace's); FUZZ_TARGET_DIR
# points elsewhere, e.g. to share the built dependencies with another checkout.
export CARGO_TARGET_DIR="${FUZZ_TARGET_DIR:-$here/target}"
cd "$root"

# One job runs in this process (its output here); more run as child processes, each writing
# fuzz-<n>.log in the current directory.
parallel=()
if [ "$jobs" -gt 1 ]; then
    parallel=(-jobs="$jobs" -workers="$jobs")
fi

failed=()
for t in "${targets[@]}"; do
    mkdir -p "$here/corpus/$t" "$here/artifacts/$t"
    echo "== $t: ${seconds}s" >&2
    if ! cargo "${toolchain[@]}" fuzz run "${build[@]}" --sanitizer "$sanitizer" "$t" "$here/corpus/$t" -- \
        -max_total_time="$seconds" -rss_limit_mb="$rss" -timeout="$timeout" \
        "${parallel[@]}" -print_final_stats=1 \
        -artifact_prefix="$here/artifacts/$t/"; then
        failed+=("$t")
    fi
done

if [ ${#failed[@]} -gt 0 ]; then
    echo "crashes in: ${failed[*]} (inputs in fuzz/artifacts/<target>/)" >&2
    exit 1
fi
echo "no crash in: ${targets[*]}" >&2
