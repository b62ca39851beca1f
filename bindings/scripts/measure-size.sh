#!/usr/bin/env bash
# Builds the phone library for this machine (x86-64 Linux) with the mobile profile, generates the
# bindings from it, strips it, and prints its size: a proxy for the Android and iOS libraries.
# `PROFILE=release bindings/scripts/measure-size.sh` measures another profile (release: what
# `cargo build --release -p fieldsync-bindings` makes). The last line is the figure,
# `bindings.stripped_mib <MiB>`, as the bench prints its own.
set -euo pipefail
cd "$(dirname "$0")/../.."
target="${CARGO_TARGET_DIR:-target}"
profile="${PROFILE:-mobile}"
# One crate type per build, as the phone builds do: asked for cdylib, staticlib and rlib at once,
# rustc cannot internalise the library's symbols and the .so grows by a quarter.
cargo rustc -p fieldsync-bindings --profile "$profile" --lib --crate-type cdylib
lib="$target/$profile/libfieldsync_bindings.so"
out="$(mktemp -d)"
bindings/scripts/generate.sh "$lib" "$out/bindings" >/dev/null
cp "$lib" "$out/"
strip --strip-all "$out/libfieldsync_bindings.so"
unstripped=$(stat -c %s "$lib")
stripped=$(stat -c %s "$out/libfieldsync_bindings.so")
mib="$(echo "$stripped / 1048576" | bc -l)"
printf 'libfieldsync_bindings.so (x86-64 Linux, profile %s): %d bytes unstripped, %d bytes stripped (%.2f MiB)\n' \
  "$profile" "$unstripped" "$stripped" "$mib"
printf 'bindings.stripped_mib %.2f MiB\n' "$mib"
rm -rf "$out"
