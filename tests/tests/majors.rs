//! The supported PostgreSQL majors compared with each other: one cluster of each
//! installation tests/run.sh prepared (`$JOBMON_TEST_PG_CONFIGS`). The extension must show
//! the same SQL surface on every major, and a library built for one major must be refused
//! by the others with PostgreSQL's own error, not crash them.

use jobmon_tests::{all_pg_installations, assert_no_crash, catalog_surface, error_text, Cluster};
use std::collections::BTreeSet;
use std::sync::OnceLock;

/// One running cluster per installation, started once for this test binary.
fn clusters() -> &'static [Cluster] {
    static CLUSTERS: OnceLock<Result<Vec<Cluster>, String>> = OnceLock::new();
    let started = CLUSTERS.get_or_init(|| {
        let installations = all_pg_installations()?;
        if installations.len() < 2 {
            return Err(format!(
                "JOBMON_TEST_PG_CONFIGS names {} installation(s); comparing majors needs two \
                 or more",
                installations.len()
            ));
        }
        installations.into_iter().map(Cluster::start).collect()
    });
    match started {
        Ok(c) => c,
        Err(msg) => panic!("{msg}"),
    }
}

#[test]
fn every_major_shows_the_same_catalog_surface() {
    let clusters = clusters();
    let surfaces: Vec<(u32, Vec<String>)> = clusters
        .iter()
        .map(|c| {
            let mut client = c.connect("jobmon_template", &c.superuser);
            (c.major, catalog_surface(&mut client))
        })
        .collect();
    let (base_major, base) = &surfaces[0];
    assert!(
        base.iter()
            .any(|l| l.starts_with("function jobmon.add_job(text)"))
            && base
                .iter()
                .any(|l| l.starts_with("column jobmon.job_log.job_id")),
        "the catalog surface of PostgreSQL {base_major} lacks add_job or job_log: {base:#?}"
    );
    let base_set: BTreeSet<&String> = base.iter().collect();
    let mut differences = Vec::new();
    for (major, surface) in &surfaces[1..] {
        let set: BTreeSet<&String> = surface.iter().collect();
        for only in base_set.difference(&set) {
            differences.push(format!("only on PostgreSQL {base_major}: {only}"));
        }
        for only in set.difference(&base_set) {
            differences.push(format!("only on PostgreSQL {major}: {only}"));
        }
    }
    let majors: Vec<u32> = surfaces.iter().map(|(m, _)| *m).collect();
    assert!(
        differences.is_empty(),
        "the catalog surface differs between PostgreSQL {majors:?}:\n{}",
        differences.join("\n")
    );
}

/// PostgreSQL refuses a library of another major in one of two ways, both before any of
/// its code runs: `dlopen` finds a server function the library needs missing (a function
/// that exists in one major only), or the magic block pgrx writes into every library
/// (`pg_module_magic!`) names another major.
fn refusal_reason(text: &str, library: &str, server: u32, built_for: u32) -> Option<&'static str> {
    let version_mismatch = format!("incompatible library \"{library}\": version mismatch");
    let detail = format!("Server is version {server}, library is version {built_for}");
    let missing_symbol = format!("could not load library \"{library}\"");
    if text.contains(&version_mismatch) && text.contains(&detail) {
        Some("magic block: version mismatch")
    } else if text.contains(&missing_symbol) && text.contains("undefined symbol: ") {
        Some("dlopen: undefined symbol")
    } else {
        None
    }
}

#[test]
fn a_library_built_for_one_major_is_refused_by_every_other_major_without_a_crash() {
    let clusters = clusters();
    let mut seen = Vec::new();
    for server in clusters {
        let mark = server.log_mark();
        let mut client = server.connect("postgres", &server.superuser);
        for built_for in clusters.iter().filter(|c| c.major != server.major) {
            let library = built_for.pkglibdir.join("pg_jobmon.so");
            let library = library.display().to_string();
            let err = client
                .batch_execute(&format!("LOAD '{library}'"))
                .expect_err(&format!(
                    "PostgreSQL {} loaded the library built for {}",
                    server.major, built_for.major
                ));
            let text = error_text(&err);
            let reason = refusal_reason(&text, &library, server.major, built_for.major)
                .unwrap_or_else(|| {
                    panic!(
                        "PostgreSQL {} loading the library built for {}: expected PostgreSQL's \
                         refusal (version mismatch or undefined symbol), got: {text}",
                        server.major, built_for.major
                    )
                });
            seen.push(format!("{} <- {}: {reason}", server.major, built_for.major));
        }
        // The session and the server go on as before.
        let one: i32 = client
            .query_one("SELECT 1", &[])
            .unwrap_or_else(|e| {
                panic!(
                    "PostgreSQL {} after the refused loads: {}",
                    server.major,
                    error_text(&e)
                )
            })
            .get(0);
        assert_eq!(one, 1);
        assert_no_crash(&mark.text_since());
    }
    println!("{}", seen.join("\n"));
}
