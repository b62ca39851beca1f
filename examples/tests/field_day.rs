//! The field-day example runs and ends with every phone converged.

#[test]
fn field_day_converges() {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_field_day"))
        .output()
        .unwrap_or_else(|e| panic!("field_day did not start: {e}"));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "field_day failed: {stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("all phones converged"), "{stdout}");
    assert_eq!(stdout.matches("5 entries").count(), 7, "every phone holds all five patrol entries");
}
