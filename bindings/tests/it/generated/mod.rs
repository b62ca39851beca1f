//! The sources an app developer generates (`bindings/scripts/generate.sh`), from the library an
//! app ships: Kotlin, Swift and Python generate, say what the layers rely on, and the Swift
//! layer (`bindings/swift/`), which cannot be compiled here, matches the generated Swift.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod swift;

use std::path::{Path, PathBuf};

use anyhow::{Result, ensure};
use uniffi_bindgen::bindings::{GenerateOptions, TargetLanguage, generate as generate_bindings};

/// Generates the three languages into `out/{kotlin,swift,python}` from this crate's library
/// (beside the test executable) and copies the Swift layer beside the Swift.
fn generate(out: &Path) -> Result<PathBuf> {
    let name = format!(
        "{}fieldsync_bindings.{}",
        std::env::consts::DLL_PREFIX,
        std::env::consts::DLL_EXTENSION
    );
    let library = std::env::current_exe()?.with_file_name(name);
    ensure!(library.exists(), "no library at {}", library.display());
    for (language, folder) in [
        (TargetLanguage::Kotlin, "kotlin"),
        (TargetLanguage::Swift, "swift"),
        (TargetLanguage::Python, "python"),
    ] {
        generate_bindings(GenerateOptions {
            languages: vec![language],
            source: library.display().to_string().into(),
            out_dir: out.join(folder).display().to_string().into(),
            format: false,
            ..GenerateOptions::default()
        })?;
    }
    let layer = Path::new(env!("CARGO_MANIFEST_DIR")).join("swift");
    for entry in std::fs::read_dir(&layer)? {
        let path = entry?.path();
        if let Some(name) = path.file_name() {
            std::fs::copy(&path, out.join("swift").join(name))?;
        }
    }
    Ok(out.to_path_buf())
}

/// Kotlin, Swift and Python sources generate from the library an app ships (this crate's,
/// built by this test run, with no server in it), in library mode with both crates'
/// `uniffi.toml`; the Swift layer uses the generated Swift API as it is.
#[test]
fn sources_generate_and_the_swift_layer_matches_them() -> Result<()> {
    let dir = tempfile::tempdir()?;
    let out = generate(dir.path())?;
    let read = |p: &str| std::fs::read_to_string(out.join(p));
    let kotlin = read("kotlin/app/fieldsync/fieldsync.kt")?;
    for expected in [
        "package app.fieldsync",
        "open class FieldStoreFfi",
        "suspend fun `syncNow`(`listener`: SyncListener? = null)",
        "sealed class FieldException",
        "class Closed(",
    ] {
        anyhow::ensure!(kotlin.contains(expected), "fieldsync.kt lacks {expected:?}");
    }
    let core = read("kotlin/app/fieldsync/core/fieldsync_core.kt")?;
    for expected in [
        "sealed class Command",
        "public typealias Timestamp = java.time.Instant",
        "public typealias TimeSpan = java.time.Duration",
        "val `limit`: kotlin.Int = 50",
        "val `report`: app.fieldsync.core.Report",
    ] {
        anyhow::ensure!(core.contains(expected), "fieldsync_core.kt lacks {expected:?}");
    }
    anyhow::ensure!(!core.contains("\n    var `"), "a record field is mutable");
    anyhow::ensure!(read("python/fieldsync.py")?.contains("import fieldsync_core"));
    anyhow::ensure!(
        read("swift/fieldsync_bindingsFFI.h")?.contains("uniffi_fieldsync_bindings_fn")
    );
    swift::layer_matches_generated(&out.join("swift"))
}
