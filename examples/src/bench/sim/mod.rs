//! Simulated devices for the `sync` and `load` suites: each holds its documents in memory and
//! speaks the protocol directly (sync, reconcile, visible), so that a thousand of them fit in one
//! process next to the server they measure.

mod device;
mod head;
mod reconcile;

pub use device::{Exchange, Outgoing, Pulled, SimDevice};
pub use reconcile::{Compared, ReconcileAsk, Reconciled};
