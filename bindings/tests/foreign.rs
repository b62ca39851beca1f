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
