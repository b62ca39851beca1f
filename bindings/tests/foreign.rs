//! The generated Kotlin and Python bindings, run by their own test scripts against a real
//! fieldsync server on a loopback port (the `Testbed` of feature `testbed`).
//!
//! Needs `kotlinc` on PATH, JNA and kotlinx-coroutines on CLASSPATH, and `python3` (`.ci/run`
//! installs them). uniffi builds the library in release mode once, generates the bindings from
//! it, and runs each script.

uniffi::build_foreign_language_testcases!(
    "tests/bindings/test_field_store.kts",
    "tests/bindings/test_field_store.py",
);
