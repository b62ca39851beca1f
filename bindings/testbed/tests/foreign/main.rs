//! The generated bindings and their hand-written layers, run by their own test scripts against
//! a real fieldsync server on a loopback port (the `Testbed`): the Kotlin layer
//! (`bindings/kotlin/`) with its tests and the app developers' quickstart, and Python.
//!
//! Needs `kotlinc` on PATH, JNA and kotlinx-coroutines on CLASSPATH, and `python3` (`.ci/run`
//! installs them); without them these tests are skipped with a line saying so.

mod runner;

use anyhow::Result;
use fieldsync_core::policy::Role;

/// The phone API from Kotlin, through the layer: enrollment, the three record kinds, sync,
/// observers, photos, cancellation, threads.
#[test]
fn kotlin_field_store() -> Result<()> {
    runner::kotlin("tests/bindings/test_field_store.kts", &[])?;
    Ok(())
}

/// What an app relies on, from Kotlin: a handed-over phone, a workflow conflict on two phones,
/// search as people type, an emoji before an edit, text with half a character, observers that
/// throw or outlive a reopen, a closed store.
#[test]
fn kotlin_app_behaviour() -> Result<()> {
    runner::kotlin("tests/bindings/test_app_behaviour.kts", &[])?;
    Ok(())
}

/// The responder's inbox from Kotlin: a dispatch and a supervision reach the inbox and its
/// Flow of events, once each.
#[test]
fn kotlin_inbox() -> Result<()> {
    runner::kotlin("tests/bindings/test_inbox.kts", &[])?;
    Ok(())
}

/// Residents' points from Kotlin: an award, a redemption made once per request id, refusals
/// typed, the balance and voucher read offline.
#[test]
fn kotlin_points() -> Result<()> {
    runner::kotlin("tests/bindings/test_points.kts", &[])?;
    Ok(())
}

/// Warning bulletins from Kotlin: one arrives (the changes Flow tells of it), is acknowledged
/// offline, once, only by those it is addressed to; the issuer sees who acknowledged.
#[test]
fn kotlin_bulletin() -> Result<()> {
    runner::kotlin("tests/bindings/test_bulletin.kts", &[])?;
    Ok(())
}

/// Business visits from Kotlin: a visit with a checklist and a finding recorded offline, the
/// overdue list, typed refusals; the business's operator reads it and acknowledges a bulletin.
#[test]
fn kotlin_visit() -> Result<()> {
    runner::kotlin("tests/bindings/test_visit.kts", &[])?;
    Ok(())
}

/// The Kotlin example for app developers (`examples/kotlin/quickstart.kts`) runs against a real
/// server, as a resident enrolling with a fresh code, so what it shows stays true.
#[test]
fn kotlin_quickstart_example_runs() -> Result<()> {
    let dir = tempfile::tempdir()?;
    let bed = fieldsync_testbed::Testbed::start(dir.path().join("server").display().to_string())?;
    let scopes = vec!["jl/cc/xinhua/grid-07".to_string()];
    let code = bed.add_user("resident-sun".into(), Role::Resident, None, scopes)?;
    runner::kotlin("../examples/kotlin/quickstart.kts", &[bed.url(), code])?;
    bed.stop()?;
    Ok(())
}

/// The phone API from Python: the same calls, snake_case.
#[test]
fn cpython_field_store() -> Result<()> {
    runner::python("tests/bindings/test_field_store.py", &[])?;
    Ok(())
}

/// What an app relies on, from Python: a sync over a link that never answers ends by its
/// deadline, typed; emoji and supplementary CJK before an edit; a negative backoff refused by name.
#[test]
fn cpython_app_behaviour() -> Result<()> {
    runner::python("tests/bindings/test_app_behaviour.py", &[])?;
    Ok(())
}

/// The responder's inbox from Python: the query and the observer's inbox reasons.
#[test]
fn cpython_inbox() -> Result<()> {
    runner::python("tests/bindings/test_inbox.py", &[])?;
    Ok(())
}

/// Residents' points from Python: the same as Kotlin's, snake_case.
#[test]
fn cpython_points() -> Result<()> {
    runner::python("tests/bindings/test_points.py", &[])?;
    Ok(())
}

/// Deliberation from Kotlin: refusals of a resident's meeting, of a decision out of order and
/// of bad votes change nothing; two phones co-edit a meeting's minutes offline and both edits
/// survive.
#[test]
fn kotlin_deliberation() -> Result<()> {
    runner::kotlin("tests/bindings/test_deliberation.kts", &[])?;
    Ok(())
}

/// Deliberation from Python: the same steps and refusals; two phones co-edit a meeting's
/// minutes offline and both edits survive.
#[test]
fn cpython_deliberation() -> Result<()> {
    runner::python("tests/bindings/test_deliberation.py", &[])?;
    Ok(())
}

/// Warning bulletins from Python: the observer hears one arrive; acknowledgements offline,
/// refused twice or by someone it is not addressed to; the issuer sees who acknowledged.
#[test]
fn cpython_bulletin() -> Result<()> {
    runner::python("tests/bindings/test_bulletin.py", &[])?;
    Ok(())
}

/// Business visits from Python: the same as Kotlin's, snake_case.
#[test]
fn cpython_visit() -> Result<()> {
    runner::python("tests/bindings/test_visit.py", &[])?;
    Ok(())
}

/// Phone to phone from Kotlin, with no server: the patrol log crosses over a transport written in
/// Kotlin, entries added offline converge over the loopback TCP transport with progress heard,
/// a session whose peer never answers is cancelled, and a closed link is typed.
#[test]
fn kotlin_peer() -> Result<()> {
    runner::kotlin("tests/bindings/test_peer.kts", &[])?;
    Ok(())
}

/// Phone to phone from Python: the same steps, over a transport of asyncio queues and the
/// loopback TCP one.
#[test]
fn cpython_peer() -> Result<()> {
    runner::python("tests/bindings/test_peer.py", &[])?;
    Ok(())
}
