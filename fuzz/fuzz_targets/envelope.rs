//! The envelope decoder of every endpoint (`fieldsync_server::fuzzing::request`) and the
//! phone's decoders of the answers; see `fieldsync_fuzz::input::envelope`.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(
    init: fieldsync_fuzz::install_panic_hook(),
    |data: &[u8]| {
        if let Err(e) = fieldsync_fuzz::input::envelope(data) {
            panic!("envelope: {e}");
        }
    }
);
