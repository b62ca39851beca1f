//! Shared code of the fuzz targets: how an input is read and checked ([`input`], also used by
//! the corpus replay test in `cargo test`), and the panic hook the targets install.

pub mod input;

use std::collections::HashSet;
use std::sync::Mutex;

/// Places of panics that were caught (by the product's isolation of Automerge, or by the
/// harness), each reported once.
static CAUGHT: Mutex<Option<HashSet<String>>> = Mutex::new(None);

/// Replaces libFuzzer's hook (which aborts on every panic, caught or not) with one that prints
/// each panic's place once. A panic that escapes the target still aborts the run (libfuzzer-sys
/// catches it at the boundary and aborts), so it is found as a crash; a panic the product
/// catches and turns into a typed refusal is shown but does not stop the run.
/// With `FUZZ_STRICT_PANICS=1` libFuzzer's hook stays, and every panic is a crash.
pub fn install_panic_hook() {
    if std::env::var_os("FUZZ_STRICT_PANICS").is_some_and(|v| v == "1") {
        return;
    }
    std::panic::set_hook(Box::new(|info| {
        let place = info
            .location()
            .map_or_else(|| "unknown place".to_string(), |l| format!("{}:{}", l.file(), l.line()));
        let mut seen = CAUGHT.lock().unwrap_or_else(|e| e.into_inner());
        if seen.get_or_insert_with(HashSet::new).insert(place.clone()) {
            eprintln!("fieldsync-fuzz: panic at {place}: {}", panic_message(info));
        }
    }));
}

/// The message a panic carries (`panic!` with a literal or a formatted string), or "".
pub fn panic_message(info: &std::panic::PanicHookInfo<'_>) -> String {
    let payload = info.payload();
    payload
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_default()
}

/// `fuzz/fixtures`, where the seeds generator wrote the fixture.
pub fn fixtures_dir() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures")
}
