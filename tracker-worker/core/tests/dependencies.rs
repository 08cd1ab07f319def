//! The core stays free of I/O because it cannot reach any: its only dependencies are
//! chrono, chrono-tz and serde, and its sources use none of the standard library's files,
//! processes, environment or sockets. A new dependency (tokio, rusqlite, ssh2,
//! tokio-postgres, ...) or an I/O call belongs in an adapter of tracker-worker, not here.

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

/// The standard library can do I/O too: the core's sources name none of it.
#[test]
fn the_core_uses_no_io_of_the_standard_library() {
    const FORBIDDEN: [&str; 8] = [
        "std::fs",
        "std::process",
        "std::env",
        "std::io",
        "std::thread",
        "TcpStream",
        "UdpSocket",
        "SystemTime",
    ];
    let src = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut stack = vec![src];
    let mut found = Vec::new();
    let mut files = 0;
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).expect("core source directory") {
            let path = entry.expect("directory entry").path();
            if path.is_dir() {
                stack.push(path);
                continue;
            }
            files += 1;
            let text = std::fs::read_to_string(&path).expect("source file");
            for (n, line) in text.lines().enumerate() {
                if let Some(word) = FORBIDDEN.iter().find(|w| line.contains(*w)) {
                    found.push(format!("{}:{}: {word}", path.display(), n + 1));
                }
            }
        }
    }
    assert!(files > 10, "only {files} source files found");
    assert!(found.is_empty(), "I/O in the core:\n{}", found.join("\n"));
}
