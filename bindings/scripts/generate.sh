#!/usr/bin/env bash
# Generates the Kotlin, Swift and Python bindings of fieldsync from a built library.
#
#   bindings/scripts/generate.sh [LIBRARY] [OUT_DIR]
#
# LIBRARY defaults to the debug build (built here if missing); OUT_DIR to bindings/generated.
# Generate from the unstripped library: a stripped one has no uniffi metadata left.
set -euo pipefail
cd "$(dirname "$0")/../.."
target="${CARGO_TARGET_DIR:-target}"
lib="${1:-}"
out="${2:-bindings/generated}"
if [[ -z "$lib" ]]; then
  cargo build -p fieldsync-bindings
  lib="$target/debug/libfieldsync_bindings.so"
fi
rm -rf "$out"
mkdir -p "$out"
for language in kotlin swift python; do
  cargo run -q -p uniffi-bindgen -- generate "$lib" --language "$language" --no-format \
    --out-dir "$out/$language"
done
echo "bindings in $out:"
find "$out" -type f | sort
