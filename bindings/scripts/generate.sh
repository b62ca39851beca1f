#!/usr/bin/env bash
# Generates the Kotlin, Swift and Python bindings of fieldsync from a built library, with the
# hand-written layers an app compiles with them: bindings/kotlin/ (the Kotlin API: coroutines,
# Flows, lambdas) beside the generated Kotlin, bindings/swift/ (AsyncSequences) beside the
# generated Swift.
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
cp -R bindings/kotlin/. "$out/kotlin/"
cp -R bindings/swift/. "$out/swift/"
echo "bindings in $out:"
find "$out" -type f | sort
