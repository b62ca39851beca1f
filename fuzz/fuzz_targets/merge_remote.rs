//! The phone's `Store::merge_remote` on a store holding the fixture's report; see
//! `fieldsync_fuzz::input::Phone::merge`.
#![no_main]

use std::sync::Mutex;

use fieldsync_fuzz::input::{Fixture, Phone};
use libfuzzer_sys::fuzz_target;

static PHONE: Mutex<Option<Phone>> = Mutex::new(None);

fuzz_target!(
    init: {
        fieldsync_fuzz::install_panic_hook();
        let fixture = Fixture::load(&fieldsync_fuzz::fixtures_dir()).expect("fixture");
        *PHONE.lock().expect("lock") = Some(Phone::new(fixture).expect("phone"));
    },
    |data: &[u8]| {
        let mut phone = PHONE.lock().unwrap_or_else(|e| e.into_inner());
        let phone = phone.as_mut().expect("initialised");
        if let Err(e) = phone.merge(data) {
            panic!("merge_remote: {e}");
        }
    }
);
