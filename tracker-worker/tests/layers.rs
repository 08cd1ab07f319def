//! The tracker's layers point one way: commands -> application -> adapters -> core. This
//! test reads the sources of both crates (tracker-worker and its core, tracker-core), builds
//! the graph of their top-level modules from every `crate::module` path in production code
//! (test modules and test files left out), and fails on a circle, naming it, or on a module
//! that imports one in a layer above its own. The core crate's own boundary (no I/O) is its
//! Cargo.toml, checked by `core/tests/dependencies.rs`.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::{Path, PathBuf};

type Graph = BTreeMap<String, BTreeSet<String>>;

/// The layer of each top-level module of tracker-worker; a module may import its own layer
/// (without a circle) and those below, never one above.
const LAYERS: [(&str, u8); 13] = [
    ("host", 1),
    ("notify", 1),
    ("config", 1),
    ("queue", 1),
    ("source", 1),
    ("store", 1),
    ("output", 1),
    ("ingest", 2),
    ("monitor", 2),
    ("daemon", 2),
    ("retention", 2),
    ("web", 2),
    ("cli", 3),
];

const LAYER_NAMES: [&str; 4] = ["core", "adapters", "application", "commands"];

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let mut entries: Vec<_> = fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.expect("directory entry").path())
        .collect();
    entries.sort();
    for path in entries {
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// Whether a file holds tests only (`tests.rs`, `ec_sender_tests.rs`).
fn is_test_file(path: &Path) -> bool {
    let stem = path.file_stem().and_then(|s| s.to_str()).unwrap_or("");
    stem == "tests" || stem.ends_with("_tests")
}

/// The production lines of a file: comments and `#[cfg(test)]` items (a module with its
/// braces, or one statement) removed.
fn production_lines(text: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let mut lines = text.lines();
    while let Some(line) = lines.next() {
        let trimmed = line.trim_start();
        if trimmed.starts_with("//") {
            continue;
        }
        if trimmed.starts_with("#[cfg(test)]") {
            // Skip the item that follows: until its braces close, or its `;`.
            let mut depth = 0i32;
            for next in lines.by_ref() {
                depth += next.matches('{').count() as i32 - next.matches('}').count() as i32;
                if depth <= 0 && (next.trim_end().ends_with(';') || next.trim_end().ends_with('}'))
                {
                    break;
                }
            }
            continue;
        }
        out.push(line);
    }
    out
}

/// The top-level module a file belongs to, relative to its crate's `src`.
fn top_module(src: &Path, file: &Path) -> Option<String> {
    let rel = file.strip_prefix(src).ok()?;
    let first = rel.components().next()?.as_os_str().to_str()?;
    let name = first.strip_suffix(".rs").unwrap_or(first);
    (!matches!(name, "lib" | "main")).then(|| name.to_owned())
}

/// Every `crate::NAME` in a line.
fn crate_paths(line: &str) -> Vec<String> {
    let mut names = Vec::new();
    let mut rest = line;
    while let Some(i) = rest.find("crate::") {
        let before = rest[..i].chars().next_back();
        rest = &rest[i + "crate::".len()..];
        // `tracker_core::` or a longer identifier ending in `crate` is not this crate.
        if before.is_some_and(|c| c.is_alphanumeric() || c == '_') {
            continue;
        }
        let name: String = rest
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
            .collect();
        if !name.is_empty() {
            names.push(name);
        }
    }
    names
}

/// The module graph of the crate whose sources are in `src`.
fn module_graph(src: &Path) -> Graph {
    let mut files = Vec::new();
    rust_files(src, &mut files);
    let mut graph = Graph::new();
    for file in files.iter().filter(|f| !is_test_file(f)) {
        let Some(from) = top_module(src, file) else {
            continue;
        };
        let text = fs::read_to_string(file).unwrap_or_else(|e| panic!("{}: {e}", file.display()));
        let edges = graph.entry(from.clone()).or_default();
        for line in production_lines(&text) {
            for to in crate_paths(line) {
                if to != from {
                    edges.insert(to);
                }
            }
        }
    }
    graph
}

/// A circle in the graph, as `a -> b -> a`, if there is one.
fn find_cycle(graph: &Graph) -> Option<Vec<String>> {
    fn visit(
        node: &str,
        graph: &Graph,
        path: &mut Vec<String>,
        done: &mut BTreeSet<String>,
    ) -> Option<Vec<String>> {
        if let Some(i) = path.iter().position(|n| n == node) {
            let mut cycle = path[i..].to_vec();
            cycle.push(node.to_owned());
            return Some(cycle);
        }
        if done.contains(node) {
            return None;
        }
        path.push(node.to_owned());
        for next in graph.get(node).into_iter().flatten() {
            if let Some(cycle) = visit(next, graph, path, done) {
                return Some(cycle);
            }
        }
        path.pop();
        done.insert(node.to_owned());
        None
    }
    let mut done = BTreeSet::new();
    graph
        .keys()
        .find_map(|n| visit(n, graph, &mut Vec::new(), &mut done))
}

fn crate_src(relative: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(relative)
}

#[test]
fn no_module_of_the_tracker_imports_one_that_imports_it_back() {
    for src in ["src", "core/src"] {
        let graph = module_graph(&crate_src(src));
        assert!(graph.len() > 5, "{src}: too few modules found: {graph:?}");
        if let Some(cycle) = find_cycle(&graph) {
            panic!(
                "{src}: the modules import each other in a circle: {}",
                cycle.join(" -> ")
            );
        }
    }
}

#[test]
fn no_module_imports_one_in_a_layer_above_its_own() {
    let graph = module_graph(&crate_src("src"));
    let layer = |m: &str| LAYERS.iter().find(|(n, _)| *n == m).map(|(_, l)| *l);
    let mut wrong = Vec::new();
    for (from, tos) in &graph {
        let Some(from_layer) = layer(from) else {
            wrong.push(format!("{from} has no layer (add it to LAYERS)"));
            continue;
        };
        for to in tos {
            match layer(to) {
                Some(to_layer) if to_layer > from_layer => wrong.push(format!(
                    "{from} ({}) imports {to} ({})",
                    LAYER_NAMES[usize::from(from_layer)],
                    LAYER_NAMES[usize::from(to_layer)]
                )),
                Some(_) => {}
                None => wrong.push(format!("{from} imports {to}, which has no layer")),
            }
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}

#[test]
fn the_checks_see_a_circle_and_skip_test_code() {
    let mut graph = Graph::new();
    for (a, b) in [
        ("store", "ingest"),
        ("ingest", "queue"),
        ("ingest", "store"),
    ] {
        graph.entry(a.into()).or_default().insert(b.into());
    }
    assert_eq!(
        find_cycle(&graph).map(|c| c.join(" -> ")).as_deref(),
        Some("ingest -> store -> ingest")
    );
    graph.get_mut("ingest").map(|e| e.remove("store"));
    assert_eq!(find_cycle(&graph), None);

    let text = "use crate::queue::Row;\n// use crate::daemon;\n#[cfg(test)]\nmod tests {\n    use crate::store::X;\n    fn f() {}\n}\n#[cfg(test)]\nuse crate::monitor::Y;\nfn g() { tracker_core::rules::f(); crate::output::h(); }\n";
    let names: Vec<String> = production_lines(text)
        .into_iter()
        .flat_map(crate_paths)
        .collect();
    assert_eq!(names, ["queue", "output"]);
}
