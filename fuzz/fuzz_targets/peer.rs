//! A frame from a peer (`fieldsync_core::peer::wire`, docs/peer.md); see
//! `fieldsync_fuzz::input::peer`.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(
    init: fieldsync_fuzz::install_panic_hook(),
    |data: &[u8]| {
        if let Err(e) = fieldsync_fuzz::input::peer(data) {
            panic!("peer: {e}");
        }
    }
);
