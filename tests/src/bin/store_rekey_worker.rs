//! Crash-test helper: encrypts a plaintext phone store, then changes its key forever, until it
//! is killed.
//!
//! `store_rekey_worker <store-path> <a> <b>` (keys of 32 bytes each equal to `a`, `b`) prints
//! `start`, opens the plaintext store at `<store-path>` with key `a` (which encrypts it in
//! place), prints `encrypted`, then changes the key to `b`, `a`, `b`, … printing `rekeyed b` or
//! `rekeyed a` after each change returned. A printed line is a promise: the test that SIGKILLs
//! the worker (`tests/it/store_key_crash.rs`) checks that the store opens with the key of the
//! last line or with the next one, whole. Any error from the store is a bug: the worker panics,
//! and the test, which expects death by SIGKILL, fails.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::Write;

use fieldsync_core::Store;
use fieldsync_core::store::StoreKey;

fn key(arg: Option<String>) -> (String, StoreKey) {
    let byte: u8 = arg.expect("usage: store_rekey_worker <path> <a> <b>").parse().expect("a byte");
    (byte.to_string(), StoreKey::from_bytes(&[byte; StoreKey::LEN]).expect("32 bytes"))
}

fn main() {
    let mut args = std::env::args().skip(1);
    let path = args.next().expect("usage: store_rekey_worker <path> <a> <b>");
    let (a_name, a) = key(args.next());
    let (b_name, b) = key(args.next());
    let mut out = std::io::stdout().lock();
    let mut say = |line: &str| {
        writeln!(out, "{line}").expect("write to stdout");
        out.flush().expect("flush stdout");
    };
    say("start");
    let store = Store::open_encrypted(&path, a.clone()).expect("open and encrypt the store");
    say("encrypted");
    loop {
        for (name, key) in [(&b_name, &b), (&a_name, &a)] {
            store.rekey(key.clone()).expect("rekey");
            say(&format!("rekeyed {name}"));
        }
    }
}
