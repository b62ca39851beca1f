//! Runs the foreign-language test scripts against the bindings of the testbed library this test
//! run built (the debug library beside the test executable: the bindings, core and the
//! `Testbed` in one library, loaded under the bindings' name).
//!
//! uniffi's own runner (`build_foreign_language_testcases!`) compiles only what it generates;
//! the Kotlin layer shipped with the bindings (`bindings/kotlin/`) must be compiled with them,
//! so the steps are here: generate Kotlin, Swift and Python once per run, copy the hand-written
//! layers beside the generated sources (as `bindings/scripts/generate.sh` does for an app),
//! compile the Kotlin and the test scripts once, then run each script. A missing tool skips the test with a line
//! saying what to install, unless `FIELDSYNC_REQUIRE_ALL_TESTS=1` (CI) makes it a failure.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Mutex, Once, OnceLock};

use anyhow::{Context, Result, anyhow, ensure};
use fieldsync_tests::tools::{self, Tool};
use uniffi_bindgen::bindings::{GenerateOptions, TargetLanguage, generate as generate_bindings};

/// The bindings' folder (the scripts and the hand-written layers are there).
pub const CRATE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/..");

/// A library's file name.
fn library_name(name: &str) -> String {
    format!("{}{name}.{}", std::env::consts::DLL_PREFIX, std::env::consts::DLL_EXTENSION)
}

/// Where the bindings of this run are: `kotlin/`, `swift/` and `python/` below it, each with
/// the hand-written layer and (Kotlin, Python) the library beside the sources.
pub fn generated() -> Result<&'static Path> {
    static DIR: OnceLock<Result<PathBuf, String>> = OnceLock::new();
    DIR.get_or_init(|| generate().map_err(|e| format!("{e:#}")))
        .as_deref()
        .map_err(|e| anyhow!("generating the bindings failed: {e}"))
}

fn generate() -> Result<PathBuf> {
    // The library sits beside this test's executable (target/<profile>/deps).
    let library = std::env::current_exe()?.with_file_name(library_name("fieldsync_testbed"));
    ensure!(library.exists(), "no library at {}", library.display());
    let out = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("foreign-bindings");
    if out.exists() {
        std::fs::remove_dir_all(&out)?;
    }
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
    copy_tree(&Path::new(CRATE).join("kotlin"), &out.join("kotlin"))?;
    copy_tree(&Path::new(CRATE).join("swift"), &out.join("swift"))?;
    for folder in ["kotlin", "python"] {
        // Under the name every generated module loads (each crate's uniffi.toml says so).
        std::fs::copy(&library, out.join(folder).join(library_name("fieldsync_bindings")))?;
    }
    Ok(out)
}

/// Copies the files below `from` into `to`, keeping their relative paths.
pub fn copy_tree(from: &Path, to: &Path) -> Result<()> {
    for entry in std::fs::read_dir(from).with_context(|| format!("reading {}", from.display()))? {
        let entry = entry?;
        let target = to.join(entry.file_name());
        if entry.file_type()?.is_dir() {
            std::fs::create_dir_all(&target)?;
            copy_tree(&entry.path(), &target)?;
        } else {
            std::fs::copy(entry.path(), &target)?;
        }
    }
    Ok(())
}

/// Every file below `dir` whose name ends with `suffix`.
pub fn files(dir: &Path, suffix: &str) -> Result<Vec<PathBuf>> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir(dir)? {
        let path = entry?.path();
        if path.is_dir() {
            found.extend(files(&path, suffix)?);
        } else if path.to_string_lossy().ends_with(suffix) {
            found.push(path);
        }
    }
    found.sort();
    Ok(found)
}

/// The class path of the jars the environment provides (JNA, kotlinx-coroutines).
fn class_path() -> String {
    std::env::var("CLASSPATH").unwrap_or_default()
}

/// Kotlin compilers are large: one at a time.
static KOTLINC: Mutex<()> = Mutex::new(());

/// The Kotlin test scripts (paths below this crate's folder). They are compiled once, with the
/// generated Kotlin and the layer, into the same jar, and each is then run by `java`: a JVM's
/// start instead of a Kotlin compiler's for every script (the compiler's start and warm-up took
/// most of each script's wall time). Any other script (the app developers' quickstart) runs as
/// its readers run it, with `kotlinc -script`.
const COMPILED_SCRIPTS: [&str; 8] = [
    "tests/bindings/test_field_store.kts",
    "tests/bindings/test_app_behaviour.kts",
    "tests/bindings/test_inbox.kts",
    "tests/bindings/test_points.kts",
    "tests/bindings/test_bulletin.kts",
    "tests/bindings/test_visit.kts",
    "tests/bindings/test_deliberation.kts",
    "tests/bindings/test_peer.kts",
];

/// JVM options for the Kotlin compiler and the scripts' runs: the client compiler only (C1) and
/// the serial collector. Both programs run for seconds, where C2's compilations and a parallel
/// collector's threads cost more than they give back: the jar's compile took 32.4 s of wall time
/// and 58 s of CPU with the JVM's defaults, 19.2 s and 25 s with these (2 cores).
const JVM_OPTIONS: [&str; 2] = ["-XX:TieredStopAtLevel=1", "-XX:+UseSerialGC"];

/// [`JVM_OPTIONS`] as `kotlinc` takes them (each behind `-J`).
fn kotlinc_jvm_options() -> impl Iterator<Item = String> {
    JVM_OPTIONS.iter().map(|o| format!("-J{o}"))
}

/// The launcher of a compiled script: Kotlin compiles a script into a class whose constructor
/// runs its body with the arguments.
const LAUNCHER: &str = "fun main(a: Array<String>) {
    Class.forName(a[0]).getConstructor(Array<String>::class.java)
        .newInstance(a.copyOfRange(1, a.size) as Any)
}
";

/// The class Kotlin names a compiled script by: its file name without `.kts`, capitalised.
fn script_class(script: &str) -> String {
    let stem = Path::new(script).file_stem().map(|s| s.to_string_lossy()).unwrap_or_default();
    let mut chars = stem.chars();
    chars.next().map(|c| c.to_uppercase().chain(chars).collect()).unwrap_or_default()
}

/// The generated Kotlin, the layer and the test scripts, compiled once, with no warning
/// allowed.
fn kotlin_jar() -> Result<&'static Path> {
    static JAR: OnceLock<Result<PathBuf, String>> = OnceLock::new();
    JAR.get_or_init(|| {
        let compile = || -> Result<PathBuf> {
            let sources = generated()?.join("kotlin");
            let jar = generated()?.join("fieldsync.jar");
            let launcher = generated()?.join("ScriptLauncher.kt");
            std::fs::write(&launcher, LAUNCHER)?;
            let scripts = COMPILED_SCRIPTS.iter().map(|s| Path::new(CRATE).join(s));
            let _one = KOTLINC.lock().unwrap_or_else(|e| e.into_inner());
            let status = Command::new("kotlinc")
                .args(kotlinc_jvm_options())
                .arg("-Werror")
                .arg("-d")
                .arg(&jar)
                .arg("-classpath")
                .arg(class_path())
                .args(files(&sources, ".kt")?)
                .arg(&launcher)
                .args(scripts)
                .status()
                .context("running kotlinc")?;
            ensure!(status.success(), "kotlinc failed to compile the bindings and the layer");
            Ok(jar)
        };
        compile().map_err(|e| format!("{e:#}"))
    })
    .as_deref()
    .map_err(|e| anyhow!("{e}"))
}

/// The Kotlin runtime jars a compiled script needs (the standard library and the script
/// runtime), from the `lib` folder beside the `kotlinc` on `PATH`.
fn kotlin_runtime() -> Result<String> {
    let kotlinc = tools::on_path("kotlinc").context("kotlinc is not on PATH")?;
    let lib = std::fs::canonicalize(&kotlinc)?
        .parent()
        .and_then(Path::parent)
        .map(|home| home.join("lib"))
        .context("kotlinc has no home folder")?;
    let jars = ["kotlin-stdlib.jar", "kotlin-script-runtime.jar"].map(|j| lib.join(j));
    for jar in &jars {
        ensure!(jar.is_file(), "no {} beside kotlinc", jar.display());
    }
    Ok(jars.map(|j| j.display().to_string()).join(":"))
}

/// Runs the Kotlin script `script` (a path below this crate) with `args`; `Ok(false)` when
/// skipped for want of `kotlinc`.
pub fn kotlin(script: &str, args: &[String]) -> Result<bool> {
    if !tools::available(script, &Tool::KOTLIN) {
        return Ok(false);
    }
    let jar = kotlin_jar()?;
    let class_path =
        format!("{}:{}:{}", generated()?.join("kotlin").display(), jar.display(), class_path());
    let status = if COMPILED_SCRIPTS.contains(&script) {
        Command::new("java")
            .args(JVM_OPTIONS)
            .arg("-ea")
            .arg("-classpath")
            .arg(format!("{class_path}:{}", kotlin_runtime()?))
            .arg("ScriptLauncherKt")
            .arg(script_class(script))
            .args(args)
            .status()
            .context("running java")?
    } else {
        let _one = KOTLINC.lock().unwrap_or_else(|e| e.into_inner());
        Command::new("kotlinc")
            .args(kotlinc_jvm_options())
            .arg("-classpath")
            .arg(class_path)
            .arg("-J-ea")
            .arg("-Werror")
            .arg("-script")
            .arg(Path::new(CRATE).join(script))
            .arg("--")
            .args(args)
            .status()
            .context("running kotlinc")?
    };
    ensure!(status.success(), "{script} failed");
    Ok(true)
}

/// Starts compiling the Kotlin jar on a thread of its own, once, where Kotlin's tools are here
/// (checked without a skip line: the Kotlin tests print their own). The Python tests, named to
/// run first (`cpython_*` sorts before `kotlin_*`; libtest starts tests in name order, two at a
/// time), then run while kotlinc works, instead of both test threads waiting for it.
fn compile_kotlin_beside() {
    static STARTED: Once = Once::new();
    STARTED.call_once(|| {
        let path = std::env::var_os("PATH").unwrap_or_default();
        let classpath = std::env::var("CLASSPATH").unwrap_or_default();
        let here = tools::verdict("kotlin", &Tool::KOTLIN, &path, &classpath, false);
        if here == tools::Verdict::Run {
            std::thread::spawn(|| {
                // A failure is kept in the jar's cell and reported by the first Kotlin test.
                let _ = kotlin_jar();
            });
        }
    });
}

/// Runs the Python script `script` (a path below this crate) with `args`; `Ok(false)` when
/// skipped for want of `python3`.
pub fn python(script: &str, args: &[String]) -> Result<bool> {
    if !tools::available(script, &[Tool::Python3]) {
        return Ok(false);
    }
    compile_kotlin_beside();
    let status = Command::new("python3")
        .arg(Path::new(CRATE).join(script))
        .args(args)
        .env("PYTHONPATH", generated()?.join("python"))
        .status()
        .context("running python3")?;
    ensure!(status.success(), "{script} failed");
    Ok(true)
}
