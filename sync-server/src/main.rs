//! fieldsync-server binary.
fn main() {}
