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

/// The Kotlin example for app developers (`examples/kotlin/quickstart.kts`) runs against a real
/// server, as a resident enrolling with a fresh code, so what it shows stays true.
#[test]
fn kotlin_quickstart_example_runs() -> uniffi::deps::anyhow::Result<()> {
    use fieldsync_core::policy::Role;

    let dir = tempfile::tempdir()?;
    let bed = fieldsync_bindings::Testbed::start(dir.path().join("server").display().to_string())?;
    let scopes = vec!["jl/cc/xinhua/grid-07".to_string()];
    let code = bed.add_user("resident-sun".into(), Role::Resident, None, scopes)?;
    uniffi::kotlin_test::run_script(
        env!("CARGO_TARGET_TMPDIR"),
        env!("CARGO_PKG_NAME"),
        concat!(env!("CARGO_MANIFEST_DIR"), "/../examples/kotlin/quickstart.kts"),
        vec![bed.url(), code],
        &Default::default(),
    )?;
    bed.stop()?;
    Ok(())
}

/// Kotlin, Swift and Python sources generate from the library this test run built, in library
/// mode with both crates' `uniffi.toml` (as `bindings/scripts/generate.sh` does). There is no
/// Swift compiler on this machine, so this is how CI checks the Swift output on every run.
#[test]
fn kotlin_swift_and_python_sources_generate() -> uniffi::deps::anyhow::Result<()> {
    use uniffi::{GenerateOptions, TargetLanguage};

    // The library sits beside this test's executable (target/<profile>/deps).
    let exe = std::env::current_exe()?;
    let lib = exe.with_file_name(format!(
        "{}fieldsync_bindings.{}",
        std::env::consts::DLL_PREFIX,
        std::env::consts::DLL_EXTENSION
    ));
    uniffi::deps::anyhow::ensure!(lib.exists(), "no library at {}", lib.display());
    let out = tempfile::tempdir()?;
    uniffi::generate(GenerateOptions {
        languages: vec![TargetLanguage::Kotlin, TargetLanguage::Swift, TargetLanguage::Python],
        source: lib.display().to_string().into(),
        out_dir: out.path().display().to_string().into(),
        format: false,
        ..GenerateOptions::default()
    })?;
    let read = |p: &str| std::fs::read_to_string(out.path().join(p));
    let swift = read("FieldSync.swift")?;
    for expected in [
        "class FieldStore",
        "func syncNow(",
        "enum FieldError",
        "protocol ChangeObserver",
        "func downloadPhoto(",
        "protocol PhotoListener",
        "case PhotoNotFound",
    ] {
        uniffi::deps::anyhow::ensure!(
            swift.contains(expected),
            "FieldSync.swift lacks {expected:?}"
        );
    }
    uniffi::deps::anyhow::ensure!(read("FieldSyncCore.swift")?.contains("public enum Command"));
    uniffi::deps::anyhow::ensure!(
        read("fieldsync_bindingsFFI.h")?.contains("uniffi_fieldsync_bindings_fn")
    );
    let kotlin = read("app/fieldsync/fieldsync.kt")?;
    uniffi::deps::anyhow::ensure!(
        kotlin.contains("package app.fieldsync") && kotlin.contains("suspend fun `syncNow`")
    );
    uniffi::deps::anyhow::ensure!(
        read("app/fieldsync/core/fieldsync_core.kt")?.contains("sealed class Command")
    );
    uniffi::deps::anyhow::ensure!(read("fieldsync.py")?.contains("import fieldsync_core"));
    Ok(())
}
