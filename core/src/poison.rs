//! The one lock-poisoning policy of fieldsync, on the phone and on the server: a lock whose
//! holder panicked is taken back and used ([`Recover::recover`]).
//!
//! Why: every critical section behind our `std::sync` locks leaves the data whole (a counter
//! bumped, an entry put in or taken out of a map or a pool), so a panic elsewhere in the
//! holder's code leaves nothing half-done behind the lock; and a panic is already contained
//! where it happens (one request on the server, one call on the phone), so refusing every later
//! caller would turn one bug into an outage. The one lock whose data a panic can leave
//! half-changed, the phone store's writer (a loaded document mid-change), repairs it as it
//! takes the lock back (it drops its document cache). That is why these stay `std` locks
//! rather than `parking_lot`'s, which do not poison: the flag is what tells the writer to
//! repair.

use std::sync::{LockResult, PoisonError};

/// Takes back the guard of a lock whose holder panicked (see the module's policy).
pub trait Recover<G> {
    /// The guard, whether or not a holder panicked.
    fn recover(self) -> G;
}

impl<G> Recover<G> for LockResult<G> {
    fn recover(self) -> G {
        self.unwrap_or_else(PoisonError::into_inner)
    }
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex};

    use super::*;

    #[test]
    fn a_poisoned_lock_is_taken_back_with_its_data() {
        let m = Arc::new(Mutex::new(vec![1]));
        let m2 = m.clone();
        let _ = std::thread::spawn(move || {
            let mut v = m2.lock().recover();
            v.push(2);
            panic!("a bug while holding the lock");
        })
        .join();
        assert!(m.is_poisoned());
        assert_eq!(*m.lock().recover(), vec![1, 2]);
    }
}
