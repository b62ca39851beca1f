//! Change observers, told off the writer's thread: one dispatcher thread per open database
//! file takes each committed write's changes from a queue and tells every subscription, in
//! commit order. A write only queues (microseconds), so a slow observer never slows a write;
//! an observer that throws is reported through the log hook and keeps its subscription.
//!
//! A subscription lives until it is cancelled or its store is closed, never until the
//! garbage collector happens to free its handle: its end is explicit, and the observer hears
//! of it (`onEnd`), last.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc::{self, Receiver, Sender};
use std::sync::{Arc, Mutex, Weak};

use fieldsync_core::Store;
use fieldsync_core::store::{RecordChanged, StoreObserver};

use crate::error::FieldError;
use crate::log;

/// Most queued writes delivered together in one call of an observer.
const BATCH: usize = 256;

/// Told after records are created, changed or removed on this phone, whether by a command here
/// or by a sync: on the library's observer thread, in commit order, after the write is on
/// disk. A write never waits for it; post to the UI thread from it, and do not wait in it for
/// another call into the store. What it throws is reported through the log hook (`setLogHook`)
/// and the subscription goes on.
#[uniffi::export(foreign)]
pub trait ChangeObserver: Send + Sync {
    /// The records that changed (several writes may come in one call), with their kind and
    /// where the change came from.
    fn on_change(&self, changes: Vec<RecordChanged>) -> Result<(), FieldError>;

    /// The subscription ended (`reason`); no call follows this one.
    fn on_end(&self, reason: SubscriptionEnd) -> Result<(), FieldError>;
}

/// Why a subscription ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, uniffi::Enum)]
pub enum SubscriptionEnd {
    /// `cancel` was called.
    Cancelled,
    /// The store it observed was closed (`close`).
    StoreClosed,
}

/// What the dispatcher thread is told.
enum Event {
    /// A committed write's changes, numbered in commit order.
    Changed { seq: u64, changes: Vec<RecordChanged> },
    /// A subscription ended; its observer hears so last.
    Ended { observer: Arc<dyn ChangeObserver>, id: u64, reason: SubscriptionEnd },
}

/// The queue the store's writes go into (registered with core's store as its observer).
struct Queue {
    sender: Mutex<Option<Sender<Event>>>,
    next_seq: AtomicU64,
}

impl Queue {
    fn send(&self, event: Event) {
        if let Some(sender) = self.sender.lock().unwrap_or_else(|e| e.into_inner()).as_ref() {
            // Fails only once the dispatcher thread is gone, when no one observes any more.
            let _ = sender.send(event);
        }
    }
}

impl StoreObserver for Queue {
    fn records_changed(&self, changes: &[RecordChanged]) {
        let seq = self.next_seq.fetch_add(1, Ordering::SeqCst);
        self.send(Event::Changed { seq, changes: changes.to_vec() });
    }
}

/// A subscription as the dispatcher and its owner see it.
pub(crate) struct Registration {
    id: u64,
    /// Writes numbered from here on are reported (those committed before it are not).
    from_seq: u64,
    active: AtomicBool,
    observer: Arc<dyn ChangeObserver>,
    dispatcher: Weak<Dispatcher>,
}

impl Registration {
    /// Ends the subscription for `reason`, once: it is told nothing more but `onEnd`.
    pub(crate) fn end(&self, reason: SubscriptionEnd) {
        if !self.active.swap(false, Ordering::SeqCst) {
            return;
        }
        if let Some(d) = self.dispatcher.upgrade() {
            d.registrations.lock().unwrap_or_else(|e| e.into_inner()).retain(|r| r.id != self.id);
            d.queue.send(Event::Ended { observer: self.observer.clone(), id: self.id, reason });
        }
    }

    /// Whether it still reports changes.
    pub(crate) fn is_active(&self) -> bool {
        self.active.load(Ordering::SeqCst)
    }
}

/// The observers of one database file and the thread that tells them.
pub(crate) struct Dispatcher {
    queue: Arc<Queue>,
    registrations: Arc<Mutex<Vec<Arc<Registration>>>>,
    next_id: AtomicU64,
}

impl Dispatcher {
    /// Starts the dispatcher thread of `store` and registers its queue with the store.
    pub(crate) fn start(store: &Store) -> Result<Arc<Dispatcher>, FieldError> {
        let (sender, receiver) = mpsc::channel();
        let registrations = Arc::new(Mutex::new(Vec::new()));
        let queue =
            Arc::new(Queue { sender: Mutex::new(Some(sender)), next_seq: AtomicU64::new(0) });
        let delivered = registrations.clone();
        std::thread::Builder::new()
            .name("fieldsync-observers".into())
            .spawn(move || run(&receiver, &delivered))
            .map_err(|e| FieldError::Storage { detail: format!("no observer thread: {e}") })?;
        store.add_observer(queue.clone());
        Ok(Arc::new(Dispatcher { queue, registrations, next_id: AtomicU64::new(1) }))
    }

    /// Registers `observer`; it hears of writes committed from now on.
    pub(crate) fn subscribe(
        self: &Arc<Self>,
        observer: Arc<dyn ChangeObserver>,
    ) -> Arc<Registration> {
        let mut all = self.registrations.lock().unwrap_or_else(|e| e.into_inner());
        let registration = Arc::new(Registration {
            id: self.next_id.fetch_add(1, Ordering::SeqCst),
            from_seq: self.queue.next_seq.load(Ordering::SeqCst),
            active: AtomicBool::new(true),
            observer,
            dispatcher: Arc::downgrade(self),
        });
        all.push(registration.clone());
        registration
    }
}

impl Drop for Dispatcher {
    fn drop(&mut self) {
        // The thread delivers what is queued (the ends of the last subscriptions among it),
        // then stops.
        self.queue.sender.lock().unwrap_or_else(|e| e.into_inner()).take();
    }
}

/// The dispatcher thread: takes what is queued, a batch at a time, and delivers it in order.
fn run(receiver: &Receiver<Event>, registrations: &Mutex<Vec<Arc<Registration>>>) {
    while let Ok(first) = receiver.recv() {
        let mut events = vec![first];
        while events.len() < BATCH {
            match receiver.try_recv() {
                Ok(e) => events.push(e),
                Err(_) => break,
            }
        }
        let mut writes: Vec<(u64, Vec<RecordChanged>)> = Vec::new();
        for event in events {
            match event {
                Event::Changed { seq, changes } => writes.push((seq, changes)),
                Event::Ended { observer, id, reason } => {
                    deliver(registrations, &mut writes);
                    call(id, "onEnd", || observer.on_end(reason));
                }
            }
        }
        deliver(registrations, &mut writes);
    }
}

/// Tells every active subscription of the writes in `writes` it has not heard of, in one
/// call each; empties `writes`.
fn deliver(
    registrations: &Mutex<Vec<Arc<Registration>>>,
    writes: &mut Vec<(u64, Vec<RecordChanged>)>,
) {
    if writes.is_empty() {
        return;
    }
    let all = registrations.lock().unwrap_or_else(|e| e.into_inner()).clone();
    for r in all {
        let changes: Vec<RecordChanged> = writes
            .iter()
            .filter(|(seq, _)| *seq >= r.from_seq)
            .flat_map(|(_, changes)| changes.iter().cloned())
            .collect();
        // Checked at the last moment: once `cancel` returns, no call starts.
        if !changes.is_empty() && r.is_active() {
            call(r.id, "onChange", || r.observer.on_change(changes));
        }
    }
    writes.clear();
}

/// Calls an observer; what it throws (or a panic on the way) goes to the log hook.
fn call(id: u64, what: &str, f: impl FnOnce() -> Result<(), FieldError>) {
    match catch_unwind(AssertUnwindSafe(f)) {
        Ok(Ok(())) => {}
        Ok(Err(e)) => log::warn("observer", format!("change observer #{id} threw in {what}: {e}")),
        Err(_) => log::warn("observer", format!("change observer #{id} panicked in {what}")),
    }
}

/// A registered observer, told of changes until `cancel` is called or its store is closed,
/// whichever comes first; the observer hears which (`onEnd`). Letting go of this handle does
/// not end it: keep it to cancel (the Kotlin layer ties it to a coroutine scope or a Flow's
/// collector).
#[derive(uniffi::Object)]
pub struct Subscription {
    pub(crate) registration: Arc<Registration>,
}

#[uniffi::export]
impl Subscription {
    /// Stops the observer: no call starts after this returns but `onEnd(CANCELLED)`.
    /// Calling it again, or after the store closed, does nothing.
    pub fn cancel(&self) {
        self.registration.end(SubscriptionEnd::Cancelled);
    }

    /// Whether the observer is still told of changes (false once cancelled or once its store
    /// was closed).
    pub fn is_active(&self) -> bool {
        self.registration.is_active()
    }
}
