//! The rule benchmark's workload (scenario 5, `tests/benches/tracker/workload.rs`) is sound:
//! checked here, as a plain test, because benchmark programs run no tests. No PostgreSQL.

#[path = "../benches/tracker/workload.rs"]
mod bench;

#[test]
fn the_benchmark_workload_evaluates() {
    let w = bench::workload(600);
    let counts = bench::evaluate_all(&w);
    assert_eq!(counts.iter().sum::<usize>(), 600);
    assert!(counts[0] > 300 && counts[2] > 0, "{counts:?}");
}
