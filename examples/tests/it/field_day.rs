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
    assert_eq!(stdout.matches("5 entries").count(), 3, "the patrol's phones hold all five entries");
    // Each phone's section lists only what its role may read: the resident's own report, the
    // case for the mediators only.
    let section = |who: &str| {
        let start = stdout.find(&format!("-- {who} holds:")).unwrap_or(0);
        let rest = &stdout[start + 3..];
        rest[..rest.find("\n-- ").or_else(|| rest.find("\n\n")).unwrap_or(rest.len())].to_string()
    };
    let resident = section("resident-sun");
    assert!(
        resident.contains("report") && !resident.contains("case") && !resident.contains("patrol")
    );
    let police = section("police-li");
    assert!(police.contains("patrol") && !police.contains("case at"), "{police}");
    assert!(section("mediator-liu").contains("case at"));
}
