#!/usr/bin/env bash
# Builds FieldSync.xcframework (device arm64; simulator arm64 + x86_64) with the size-tuned
# `mobile` profile, and the Swift bindings generated from the unstripped static library.
#
#   bindings/scripts/build-ios.sh [OUT_DIR]          (default bindings/out/ios)
#
# Needs macOS with Xcode (xcodebuild, lipo). Not runnable on the project's CI machine (Linux);
# CI only generates the Swift sources (bindings/scripts/generate.sh).
set -euo pipefail
cd "$(dirname "$0")/../.."
out="${1:-bindings/out/ios}"
target="${CARGO_TARGET_DIR:-target}"
targets=(aarch64-apple-ios aarch64-apple-ios-sim x86_64-apple-ios)
rustup target add "${targets[@]}"
# Only the static library, one crate type per build (smaller: see measure-size.sh).
for t in "${targets[@]}"; do
  cargo rustc -p fieldsync-bindings --profile mobile --target "$t" --lib --crate-type staticlib
done
rm -rf "$out"
mkdir -p "$out/swift" "$out/headers" "$out/sim"
cargo run -q -p uniffi-bindgen -- generate \
  "$target/aarch64-apple-ios/mobile/libfieldsync_bindings.a" \
  --language swift --out-dir "$out/swift"
# AsyncSequences of changes and lists, compiled into the same module as the generated Swift.
cp bindings/swift/*.swift "$out/swift/"
# One module map for both FFI modules (the FieldStore API and core's record types).
cp "$out"/swift/*.h "$out/headers/"
cat "$out"/swift/*.modulemap > "$out/headers/module.modulemap"
lipo -create \
  "$target/aarch64-apple-ios-sim/mobile/libfieldsync_bindings.a" \
  "$target/x86_64-apple-ios/mobile/libfieldsync_bindings.a" \
  -output "$out/sim/libfieldsync_bindings.a"
cp "$target/aarch64-apple-ios/mobile/libfieldsync_bindings.a" "$out/libfieldsync_bindings.a"
# Static libraries keep their symbols for the app's link; drop debug info only.
strip -S "$out/libfieldsync_bindings.a" "$out/sim/libfieldsync_bindings.a"
xcodebuild -create-xcframework \
  -library "$out/libfieldsync_bindings.a" -headers "$out/headers" \
  -library "$out/sim/libfieldsync_bindings.a" -headers "$out/headers" \
  -output "$out/FieldSync.xcframework"
echo "Add $out/FieldSync.xcframework and the Swift files in $out/swift to the app target."
