#!/usr/bin/env bash
# Builds the Android libraries of fieldsync (arm64-v8a, armeabi-v7a, x86_64) with the size-tuned
# `mobile` profile, generates the Kotlin bindings from an unstripped library, then strips.
#
#   bindings/scripts/build-android.sh [OUT_DIR]      (default bindings/out/android)
#
# Needs the Android NDK (ANDROID_NDK_HOME), cargo-ndk (`cargo install cargo-ndk`) and the rust
# targets (added below). Not runnable on the project's CI machine, which has no NDK.
set -euo pipefail
cd "$(dirname "$0")/../.."
out="${1:-bindings/out/android}"
target="${CARGO_TARGET_DIR:-target}"
: "${ANDROID_NDK_HOME:?set ANDROID_NDK_HOME to the Android NDK}"
rustup target add aarch64-linux-android armv7-linux-androideabi x86_64-linux-android
rm -rf "$out"
mkdir -p "$out"
# Only the cdylib, one crate type per build (smaller: see measure-size.sh); unstripped, since
# the bindings are generated from it.
declare -A abis=([arm64-v8a]=aarch64-linux-android [armeabi-v7a]=armv7-linux-androideabi
                 [x86_64]=x86_64-linux-android)
for abi in "${!abis[@]}"; do
  cargo ndk --no-strip -t "$abi" rustc -p fieldsync-bindings --profile mobile --lib \
    --crate-type cdylib
  mkdir -p "$out/jniLibs/$abi"
  cp "$target/${abis[$abi]}/mobile/libfieldsync_bindings.so" "$out/jniLibs/$abi/"
done
cargo run -q -p uniffi-bindgen -- generate \
  "$target/aarch64-linux-android/mobile/libfieldsync_bindings.so" \
  --language kotlin --out-dir "$out/kotlin"
# The Kotlin API apps use (coroutines, Flows, lambdas) wraps the generated classes.
cp -R bindings/kotlin/. "$out/kotlin/"
strip_tool=$(find "$ANDROID_NDK_HOME/toolchains/llvm/prebuilt" -name llvm-strip | head -n 1)
for so in "$out"/jniLibs/*/libfieldsync_bindings.so; do
  "$strip_tool" --strip-all "$so"
done
echo "Kotlin sources: $out/kotlin (packages app.fieldsync, app.fieldsync.core)"
echo "Native libraries (add as jniLibs; the app needs net.java.dev.jna:jna@aar and"
echo "org.jetbrains.kotlinx:kotlinx-coroutines-android):"
ls -l "$out"/jniLibs/*/libfieldsync_bindings.so
