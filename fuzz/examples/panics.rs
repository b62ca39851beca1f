//! Lists the corpus inputs during which a panic was raised and caught (by the product's
//! isolation of Automerge, or by the harness), with the panic's place:
//! `cargo run --release --example panics [target...]`. A panic that is not caught ends the run.

use std::cell::RefCell;
use std::path::Path;

use fieldsync_fuzz::input::{self, Fixture, Phone, Server};

thread_local! {
    static PANICS: RefCell<Vec<String>> = const { RefCell::new(Vec::new()) };
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    std::panic::set_hook(Box::new(|info| {
        let place =
            info.location().map_or_else(String::new, |l| format!("{}:{}", l.file(), l.line()));
        let msg = fieldsync_fuzz::panic_message(info);
        // Whose call panicked: the harness making changes, or the product handling bytes.
        let trace = std::backtrace::Backtrace::force_capture().to_string();
        let whose =
            if trace.contains("fieldsync_fuzz::input::harness") { "harness" } else { "product" };
        PANICS.with(|p| p.borrow_mut().push(format!("[{whose}] {place}: {msg}")));
    }));
    let targets: Vec<String> = std::env::args().skip(1).collect();
    let targets = if targets.is_empty() {
        vec!["envelope".to_string(), "ingest".to_string(), "merge_remote".to_string()]
    } else {
        targets
    };
    let fixture = Fixture::load(&fieldsync_fuzz::fixtures_dir())?;
    let server = Server::new(fixture.clone())?;
    let mut phone = Phone::new(fixture)?;
    for target in targets {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("corpus").join(&target);
        let mut files: Vec<_> =
            std::fs::read_dir(&dir)?.filter_map(|e| e.ok()).map(|e| e.path()).collect();
        files.sort();
        for file in files {
            let data = std::fs::read(&file)?;
            let result = match target.as_str() {
                "envelope" => input::envelope(&data),
                "ingest" => server.ingest(&data),
                _ => phone.merge(&data),
            };
            let caught: Vec<String> = PANICS.with(|p| p.borrow_mut().drain(..).collect());
            if let Err(e) = result {
                println!("{target} {}: VIOLATION {e}", file.display());
            }
            for c in caught {
                println!(
                    "{target} {} mode {}: {c}",
                    file.display(),
                    data.first().copied().unwrap_or(0)
                );
            }
        }
    }
    Ok(())
}
