//! Observers as an app relies on them, through the exported Rust API (the code the generated
//! bindings call): told off the writer's thread, in commit order, a slow one never slowing a
//! write; one that fails reported through the log hook; a subscription that lives until it is
//! cancelled or its store closed, whatever happens to its handle; two handles on one file
//! sharing one store; a closed store answering `Closed` and released for a fresh open.

use crate::KEY;
use std::sync::mpsc::{Receiver, Sender, channel};
use std::sync::{Arc, Mutex};
use std::thread::ThreadId;
use std::time::{Duration, Instant};

use fieldsync_bindings::{
    ChangeObserver, FieldError, FieldStore, LogHook, LogLevel, SubscriptionEnd, set_log_hook,
};
use fieldsync_core::model::{NewReport, ReportCategory};
use fieldsync_core::store::{Origin, RecordChanged};

/// How long a test waits for a delivery before it fails.
const PATIENCE: Duration = Duration::from_secs(10);

/// What an observer heard, in order.
#[derive(Debug)]
enum Heard {
    Changed(Vec<RecordChanged>, ThreadId),
    Ended(SubscriptionEnd),
}

/// Sends everything it hears to a channel; optionally sleeps, or fails, in `on_change`.
struct Recorder {
    to: Mutex<Sender<Heard>>,
    pause: Duration,
    fail: bool,
}

impl Recorder {
    fn new(pause: Duration, fail: bool) -> (Arc<Recorder>, Receiver<Heard>) {
        let (to, from) = channel();
        (Arc::new(Recorder { to: Mutex::new(to), pause, fail }), from)
    }
}

impl ChangeObserver for Recorder {
    fn on_change(&self, changes: Vec<RecordChanged>) -> Result<(), FieldError> {
        std::thread::sleep(self.pause);
        let heard = Heard::Changed(changes, std::thread::current().id());
        let _ = self.to.lock().unwrap_or_else(|e| e.into_inner()).send(heard);
        if self.fail {
            return Err(FieldError::Callback { detail: "the list adapter is gone".into() });
        }
        Ok(())
    }

    fn on_end(&self, reason: SubscriptionEnd) -> Result<(), FieldError> {
        let _ = self.to.lock().unwrap_or_else(|e| e.into_inner()).send(Heard::Ended(reason));
        Ok(())
    }
}

/// The ids of the records changed in what arrives within `PATIENCE`, until `n` have come.
fn changed_ids(from: &Receiver<Heard>, n: usize) -> Vec<String> {
    let mut ids = Vec::new();
    while ids.len() < n {
        match from.recv_timeout(PATIENCE) {
            Ok(Heard::Changed(changes, _)) => ids.extend(changes.iter().map(|c| c.id.to_string())),
            Ok(other) => panic!("expected changes, heard {other:?}"),
            Err(e) => panic!("{} of {n} changes heard: {e}", ids.len()),
        }
    }
    ids
}

fn report(title: &str) -> NewReport {
    NewReport {
        scope: "jl/cc/grid-07".into(),
        category: ReportCategory::Sanitation,
        title: title.into(),
        description: String::new(),
        location: None,
        photos: vec![],
    }
}

fn phone(dir: &tempfile::TempDir) -> (Arc<FieldStore>, String) {
    let path = dir.path().join("phone.db").display().to_string();
    let store = FieldStore::new(path.clone(), KEY.to_vec()).unwrap_or_else(|e| panic!("open: {e}"));
    store.set_user("resident-sun".into()).unwrap_or_else(|e| panic!("set_user: {e}"));
    (store, path)
}

#[test]
fn observers_hear_off_the_writers_thread_in_order_and_never_slow_a_write() {
    let dir = tempfile::tempdir().unwrap();
    let (store, _) = phone(&dir);
    let (slow, heard) = Recorder::new(Duration::from_millis(300), false);
    let _subscription = store.observe(slow).unwrap();
    let mut ids = Vec::new();
    let started = Instant::now();
    for i in 0..5 {
        ids.push(store.submit_report(report(&format!("Overflowing bin #{i}"))).unwrap());
    }
    let took = started.elapsed();
    assert!(took < Duration::from_millis(300), "5 writes took {took:?} behind a 300 ms observer");
    assert_eq!(changed_ids(&heard, 5), ids, "in commit order");
    let writer = std::thread::current().id();
    store.submit_report(report("One more")).unwrap();
    match heard.recv_timeout(PATIENCE).unwrap() {
        Heard::Changed(changes, on) => {
            assert_ne!(on, writer, "told on the writer's thread");
            assert_eq!(changes[0].origin, Origin::Local);
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn a_subscription_lives_until_cancelled_not_until_its_handle_is_dropped() {
    let dir = tempfile::tempdir().unwrap();
    let (store, _) = phone(&dir);
    let (recorder, heard) = Recorder::new(Duration::ZERO, false);
    let subscription = store.observe(recorder).unwrap();
    let kept = subscription.clone();
    drop(subscription);
    let id = store.submit_report(report("Broken lamp")).unwrap();
    assert_eq!(changed_ids(&heard, 1), vec![id], "a dropped handle still observes");
    assert!(kept.is_active());
    kept.cancel();
    assert!(!kept.is_active());
    assert!(matches!(
        heard.recv_timeout(PATIENCE).unwrap(),
        Heard::Ended(SubscriptionEnd::Cancelled)
    ));
    store.submit_report(report("Another lamp")).unwrap();
    kept.cancel();
    assert!(
        heard.recv_timeout(Duration::from_millis(300)).is_err(),
        "nothing after the end, and one end only"
    );
}

/// The log hook is the process's: this is the one test of this binary that sets it.
#[test]
fn an_observer_that_fails_is_reported_through_the_log_hook_and_keeps_observing() {
    struct Log(Mutex<Sender<(LogLevel, String, String)>>);
    impl LogHook for Log {
        fn log(&self, level: LogLevel, tag: String, message: String) -> Result<(), FieldError> {
            let _ = self.0.lock().unwrap_or_else(|e| e.into_inner()).send((level, tag, message));
            Ok(())
        }
    }
    let (to, logged) = channel();
    set_log_hook(Some(Arc::new(Log(Mutex::new(to)))));
    let dir = tempfile::tempdir().unwrap();
    let (store, _) = phone(&dir);
    let (failing, heard) = Recorder::new(Duration::ZERO, true);
    let subscription = store.observe(failing).unwrap();
    let first = store.submit_report(report("Graffiti")).unwrap();
    let second = store.submit_report(report("More graffiti")).unwrap();
    assert_eq!(changed_ids(&heard, 2), vec![first, second], "it keeps being told");
    let (level, tag, message) = logged.recv_timeout(PATIENCE).unwrap();
    assert_eq!((level, tag.as_str()), (LogLevel::Warn, "observer"));
    assert!(message.contains("the list adapter is gone"), "{message}");
    assert!(subscription.is_active());
    set_log_hook(None);
}

#[test]
fn close_ends_subscriptions_and_releases_the_file_for_a_fresh_open() {
    let dir = tempfile::tempdir().unwrap();
    let (store, path) = phone(&dir);
    let (recorder, heard) = Recorder::new(Duration::ZERO, false);
    let subscription = store.observe(recorder).unwrap();
    let id = store.submit_report(report("Blocked fire lane")).unwrap();
    changed_ids(&heard, 1);

    store.close();
    assert!(store.is_closed() && !subscription.is_active());
    assert!(matches!(
        heard.recv_timeout(PATIENCE).unwrap(),
        Heard::Ended(SubscriptionEnd::StoreClosed)
    ));
    for result in [store.get(id.clone()).map(|_| ()), store.user().map(|_| ()), store.close_again()]
    {
        assert!(
            matches!(result, Err(FieldError::Closed { ref path }) if path.ends_with("phone.db")),
            "{result:?}"
        );
    }
    assert!(matches!(
        store.observe(Recorder::new(Duration::ZERO, false).0),
        Err(FieldError::Closed { .. })
    ));

    // A fresh handle on the file: the record is there, the old subscription hears nothing.
    let reopened = FieldStore::new(path, KEY.to_vec()).unwrap();
    assert_eq!(reopened.get_report(id).unwrap().title, "Blocked fire lane");
    reopened.submit_report(report("After the reopen")).unwrap();
    assert!(heard.recv_timeout(Duration::from_millis(300)).is_err());
    assert!(!subscription.is_active(), "an ended subscription never says it is active");
    reopened.integrity_check().unwrap();
}

#[test]
fn one_file_opened_twice_is_one_store() {
    let dir = tempfile::tempdir().unwrap();
    let plain = dir.path().join("phone.db");
    let other_spelling = dir.path().join(".").join("phone.db");
    let screen = FieldStore::new(plain.display().to_string(), KEY.to_vec()).unwrap();
    let job = FieldStore::new(other_spelling.display().to_string(), KEY.to_vec()).unwrap();
    screen.set_user("resident-sun".into()).unwrap();
    // Shared only with a caller that has its key.
    assert!(matches!(
        FieldStore::new(plain.display().to_string(), vec![8; 32]),
        Err(FieldError::WrongKey { .. })
    ));

    let (recorder, heard) = Recorder::new(Duration::ZERO, false);
    let subscription = job.observe(recorder).unwrap();
    let id = screen.submit_report(report("Overflowing bin")).unwrap();
    assert_eq!(job.get_report(id.clone()).unwrap().title, "Overflowing bin");
    assert_eq!(job.user().unwrap(), "resident-sun", "one identity per file");
    assert_eq!(changed_ids(&heard, 1), vec![id], "the other handle's observer heard the write");

    // Closing one handle ends its own subscriptions only; the other goes on.
    screen.close();
    assert!(subscription.is_active());
    let later = job.submit_report(report("Broken lamp")).unwrap();
    assert_eq!(changed_ids(&heard, 1), vec![later]);
    drop(job);
    assert!(!subscription.is_active(), "a handle let go of is closed");
    let reopened = FieldStore::new(plain.display().to_string(), KEY.to_vec()).unwrap();
    assert_eq!(reopened.stats().unwrap().documents, 2);
    reopened.integrity_check().unwrap();
}

/// `close` twice is harmless; a call on the closed handle answers `Closed`.
trait CloseAgain {
    fn close_again(&self) -> Result<(), FieldError>;
}

impl CloseAgain for FieldStore {
    fn close_again(&self) -> Result<(), FieldError> {
        self.close();
        self.integrity_check()
    }
}
