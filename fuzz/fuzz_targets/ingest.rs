//! The server's ingestion of one document's changes (push and reconcile), on the fixture's
//! report; see `fieldsync_fuzz::input::Server::ingest`.
#![no_main]

use std::sync::OnceLock;

use fieldsync_fuzz::input::{Fixture, Server};
use libfuzzer_sys::fuzz_target;

static SERVER: OnceLock<Server> = OnceLock::new();

fuzz_target!(
    init: {
        fieldsync_fuzz::install_panic_hook();
        let fixture = Fixture::load(&fieldsync_fuzz::fixtures_dir()).expect("fixture");
        let _ = SERVER.set(Server::new(fixture).expect("fixture loads on the server"));
    },
    |data: &[u8]| {
        let server = SERVER.get().expect("initialised");
        if let Err(e) = server.ingest(data) {
            panic!("ingest: {e}");
        }
    }
);
