//! Scenario 8's data (tests/benches/web/data.sql) is what its comment says, checked at a
//! small size as a plain test (benchmark programs run no tests): the rows, the failures and
//! open runs, the alert rows, and job_log's indexes, dropped for the load, all back.

use jobmon_tests::{error_text, TestDb};

const DATA: &str = include_str!("../benches/web/data.sql");

fn indexes(c: &mut postgres::Client) -> Vec<String> {
    c.query(
        "SELECT indexdef FROM pg_indexes WHERE schemaname = 'jobmon' AND tablename = 'job_log'
          ORDER BY indexname",
        &[],
    )
    .unwrap()
    .iter()
    .map(|r| r.get(0))
    .collect()
}

#[test]
fn the_dashboard_benchmark_data_is_as_described() {
    let db = TestDb::new("bench_web_data");
    let mut c = db.connect();
    let before = indexes(&mut c);
    c.batch_execute(
        "SELECT set_config('bench.jobs', '200', false), set_config('bench.runs', '50', false)",
    )
    .unwrap();
    c.batch_execute(DATA)
        .unwrap_or_else(|e| panic!("data.sql: {}", error_text(&e)));
    assert_eq!(indexes(&mut c), before, "the same indexes after the load");
    let r = c
        .query_one(
            "SELECT count(*), count(DISTINCT job_name), count(*) FILTER (WHERE end_time IS NULL),
                    count(*) FILTER (WHERE status = 'CRITICAL'),
                    min(start_time) > now() - interval '61 days', max(start_time) < now()
               FROM jobmon.job_log",
            &[],
        )
        .unwrap();
    assert_eq!(r.get::<_, i64>(0), 200 * 50);
    assert_eq!(r.get::<_, i64>(1), 200);
    assert_eq!(
        r.get::<_, i64>(2),
        2,
        "every 100th job's latest run is open"
    );
    let critical: i64 = r.get(3);
    assert!(
        (30..300).contains(&critical),
        "about 1% plus 30: {critical}"
    );
    assert!(r.get::<_, bool>(4) && r.get::<_, bool>(5));
    // The last ten jobs failed their last three runs: FAILED_RUN in check_job_status().
    let failed: Vec<String> = c
        .query(
            "SELECT job_name FROM jobmon.check_job_status() WHERE alert_status = 'FAILED_RUN'
              ORDER BY job_name",
            &[],
        )
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    for n in 191..=200 {
        assert!(
            failed.contains(&format!("BENCH_JOB_{n:05}")),
            "{n}: {failed:?}"
        );
    }
    let steps: i64 = c
        .query_one("SELECT count(*) FROM jobmon.job_detail", &[])
        .unwrap()
        .get(0);
    assert_eq!(
        steps,
        200 * 5 * 3,
        "three steps for each job's five latest runs"
    );
}
