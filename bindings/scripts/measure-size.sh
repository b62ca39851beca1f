#!/usr/bin/env bash
# Builds the phone library for this machine (x86-64 Linux) with the mobile profile, generates the
# bindings from it, strips it, and prints its size: a proxy for the Android and iOS libraries.
set -euo pipefail
cd "$(dirname "$0")/../.."
target="${CARGO_TARGET_DIR:-target}"
# One crate type per build, as the phone builds do: asked for cdylib, staticlib and rlib at once,
# rustc cannot internalise the library's symbols and the .so grows by a quarter.
cargo rustc -p fieldsync-bindings --profile mobile --lib --crate-type cdylib
lib="$target/mobile/libfieldsync_bindings.so"
out="$(mktemp -d)"
bindings/scripts/generate.sh "$lib" "$out/bindings" >/dev/null
cp "$lib" "$out/"
strip --strip-all "$out/libfieldsync_bindings.so"
unstripped=$(stat -c %s "$lib")
stripped=$(stat -c %s "$out/libfieldsync_bindings.so")
printf 'libfieldsync_bindings.so (x86-64 Linux, profile mobile): %d bytes unstripped, %d bytes stripped (%.2f MiB)\n' \
  "$unstripped" "$stripped" "$(echo "$stripped / 1048576" | bc -l)"
rm -rf "$out"
