//! Tallies what the `ingest` corpus comes to (accepted, unchanged, refused by code), to see
//! which parts of ingestion the corpus reaches: `cargo run --release --example outcomes [dir]`.

use std::collections::BTreeMap;

use fieldsync_fuzz::input::{Fixture, Server};
use fieldsync_server::fuzzing::Outcome;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let dir = std::env::args().nth(1).map_or_else(
        || std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("corpus/ingest"),
        std::path::PathBuf::from,
    );
    let server = Server::new(Fixture::load(&fieldsync_fuzz::fixtures_dir())?)?;
    let mut tally: BTreeMap<String, usize> = BTreeMap::new();
    for entry in std::fs::read_dir(&dir)? {
        let data = std::fs::read(entry?.path())?;
        let form =
            ["raw", "fixed", "script"][usize::from(data.first().copied().unwrap_or(0) / 9 % 3)];
        let key = match server.outcome(&data) {
            Ok(None) => "no changes".to_string(),
            Ok(Some(Outcome::Unchanged)) => "unchanged".to_string(),
            Ok(Some(Outcome::Accepted { snapshot, .. })) => {
                format!("accepted (snapshot {snapshot})")
            }
            Ok(Some(Outcome::Refused { code, .. })) => format!("refused {code}"),
            Err(e) => format!("VIOLATION {e}"),
        };
        *tally.entry(format!("{form:6} {key}")).or_default() += 1;
    }
    for (k, n) in tally {
        println!("{n:6}  {k}");
    }
    Ok(())
}
