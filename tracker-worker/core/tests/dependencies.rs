//! The core stays free of I/O because it cannot reach any: its only dependencies are
//! chrono, chrono-tz and serde. A new dependency (tokio, rusqlite, ssh2, tokio-postgres, ...)
//! belongs in an adapter of tracker-worker, not here.

const ALLOWED: [&str; 3] = ["chrono", "chrono-tz", "serde"];

/// The names under each `[...dependencies...]` table of the core's Cargo.toml.
fn dependencies(manifest: &str) -> Vec<String> {
    let mut names = Vec::new();
    let mut in_deps = false;
    for line in manifest.lines().map(str::trim) {
        if line.starts_with('[') {
            in_deps = line.trim_matches(['[', ']']).ends_with("dependencies");
            continue;
        }
        if in_deps && !line.is_empty() && !line.starts_with('#') {
            if let Some((name, _)) = line.split_once('=') {
                names.push(name.trim().to_owned());
            }
        }
    }
    names
}

#[test]
fn the_core_depends_on_chrono_chrono_tz_and_serde_only() {
    let manifest = include_str!("../Cargo.toml");
    let deps = dependencies(manifest);
    assert!(
        !deps.is_empty(),
        "no [dependencies] found in the core's Cargo.toml"
    );
    let extra: Vec<&String> = deps
        .iter()
        .filter(|d| !ALLOWED.contains(&d.as_str()))
        .collect();
    assert!(
        extra.is_empty(),
        "tracker-core may depend on {ALLOWED:?} only (it must not be able to do I/O); found {extra:?}"
    );
}

#[test]
fn the_check_sees_a_dependency_added_in_any_table() {
    let manifest = "[package]\nname = \"x\"\n[dependencies]\nchrono = \"0.4\"\n\
                    [target.'cfg(unix)'.dependencies]\ntokio = \"1\"\n";
    assert_eq!(dependencies(manifest), ["chrono", "tokio"]);
}
