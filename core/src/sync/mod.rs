//! The phone's sync client: pushes unacknowledged changes and pulls the server's feed, page by
//! page, as `docs/protocol.md` describes.

pub mod transport;

pub use transport::{HttpTransport, Transport, TransportError};
