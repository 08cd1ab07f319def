//! jobmon-tracker ingest from local queue files into pg_jobmon: every message exactly once,
//! runs and steps as the issue says, bad rows set aside, queues emptied or recreated.

use jobmon_tests::tracker::{
    assert_ok, fill_queue, grant_tracker_rights, lost_and_duplicated, message_count, run_once,
    stored_numbers, tempdir, write_config, SourceSpec,
};
use jobmon_tests::TestDb;
use tracker_worker::queue::Queue;

const BIN: &str = env!("CARGO_BIN_EXE_tracker");

#[test]
fn local_ingest_of_10000_messages_stores_each_once_as_runs_and_steps() {
    let db = TestDb::new("ingest10k");
    let dir = tempdir();
    let queue = dir.path().join("queue.sqlite");
    fill_queue(&queue, 0, 10_000, 10);
    let config = write_config(
        dir.path(),
        &db,
        &[SourceSpec::local("dwh1", &queue, false)],
        "1s",
        1000,
        "5s",
    );
    assert_ok(&run_once(BIN, &config));

    let mut c = db.connect();
    let (lost, dup) = lost_and_duplicated(&stored_numbers(&mut c, "dwh1"), 10_000);
    assert_eq!((lost, dup), (0, 0), "lost, duplicated");
    // 10 jobs x 250 runs of 4 messages; every seventh run of a job (run % 7 == 3) had an error.
    let runs: Vec<(String, String, i64)> = c
        .query(
            "SELECT owner, status, count(*) FROM jobmon.job_log GROUP BY 1, 2 ORDER BY 1, 2",
            &[],
        )
        .unwrap()
        .iter()
        .map(|r| (r.get(0), r.get(1), r.get(2)))
        .collect();
    let failed_per_job = (0..250).filter(|r| r % 7 == 3).count() as i64;
    assert_eq!(
        runs,
        [
            ("dwh1".into(), "CRITICAL".into(), 10 * failed_per_job),
            ("dwh1".into(), "OK".into(), 10 * (250 - failed_per_job)),
        ]
    );
    let names: i64 = c
        .query_one(
            "SELECT count(DISTINCT job_name) FROM jobmon.job_log WHERE job_name ~ '^JOB[0-9]__P$'",
            &[],
        )
        .unwrap()
        .get(0);
    assert_eq!(names, 10);
    // Every message is a step of its run, at the message's own time, in queue order.
    let steps: Vec<(String, String, i64)> = c
        .query(
            "SELECT action, status, count(*) FROM jobmon.job_detail GROUP BY 1, 2 ORDER BY 1, 2",
            &[],
        )
        .unwrap()
        .iter()
        .map(|r| (r.get(0), r.get(1), r.get(2)))
        .collect();
    let errors = 10 * failed_per_job;
    assert_eq!(
        steps,
        [
            ("ERROR".into(), "CRITICAL".into(), errors),
            ("STARTED".into(), "OK".into(), 2500),
            ("SUCCESS".into(), "OK".into(), 2500),
            ("progress".into(), "progress".into(), 5000 - errors),
        ]
    );
    let mismatched: i64 = c
        .query_one(
            "SELECT count(*) FROM jobmon.tracker_message m
               JOIN jobmon.job_detail d ON d.job_id = m.job_id AND d.message = m.message
              WHERE d.start_time <> m.queued_at OR m.job_id IS NULL",
            &[],
        )
        .unwrap()
        .get(0);
    assert_eq!(mismatched, 0);
    let (last_id, stored, rejected): (Option<i64>, i64, i64) = c
        .query_one(
            "SELECT last_id, messages_stored, messages_rejected FROM jobmon.tracker_source WHERE source = 'dwh1'",
            &[],
        )
        .map(|r| (r.get(0), r.get(1), r.get(2)))
        .unwrap();
    assert_eq!((last_id, stored, rejected), (Some(10_000), 10_000, 0));

    // A second pass finds nothing new and changes nothing; the queue was left alone.
    assert_ok(&run_once(BIN, &config));
    assert_eq!(message_count(&mut c, "dwh1"), 10_000);
    assert_eq!(Queue::open(&queue).unwrap().length().unwrap(), 10_000);
}

#[test]
fn deleting_after_commit_empties_the_queue_and_restarted_ids_are_read_as_new() {
    let db = TestDb::new("ingest_delete");
    let dir = tempdir();
    let queue = dir.path().join("queue.sqlite");
    fill_queue(&queue, 0, 300, 3);
    let config = write_config(
        dir.path(),
        &db,
        &[SourceSpec::local("etl", &queue, true)],
        "1s",
        100,
        "5s",
    );
    assert_ok(&run_once(BIN, &config));
    assert_eq!(Queue::open(&queue).unwrap().length().unwrap(), 0);
    // SQLite gives the next message id 1 again: it must not be taken for an old one.
    fill_queue(&queue, 300, 150, 3);
    assert_eq!(
        Queue::open(&queue).unwrap().read_after(0, 1).unwrap()[0].id,
        1
    );
    assert_ok(&run_once(BIN, &config));
    let mut c = db.connect();
    let (lost, dup) = lost_and_duplicated(&stored_numbers(&mut c, "etl"), 450);
    assert_eq!((lost, dup), (0, 0), "lost, duplicated");
    let generations: Vec<i64> = c
        .query(
            "SELECT DISTINCT generation FROM jobmon.tracker_message ORDER BY 1",
            &[],
        )
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert_eq!(generations, [1, 2]);
    assert_eq!(Queue::open(&queue).unwrap().length().unwrap(), 0);
}

#[test]
fn a_recreated_queue_file_is_read_from_its_start() {
    let db = TestDb::new("ingest_recreated");
    let dir = tempdir();
    let queue = dir.path().join("queue.sqlite");
    fill_queue(&queue, 0, 200, 2);
    let config = write_config(
        dir.path(),
        &db,
        &[SourceSpec::local("keep", &queue, false)],
        "1s",
        1000,
        "5s",
    );
    assert_ok(&run_once(BIN, &config));
    // Recreated with fewer rows than before, then (second case) with more.
    std::fs::remove_file(&queue).unwrap();
    fill_queue(&queue, 200, 50, 2);
    assert_ok(&run_once(BIN, &config));
    std::fs::remove_file(&queue).unwrap();
    fill_queue(&queue, 250, 400, 2);
    let out = run_once(BIN, &config);
    assert_ok(&out);
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("queue was recreated"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let mut c = db.connect();
    let (lost, dup) = lost_and_duplicated(&stored_numbers(&mut c, "keep"), 650);
    assert_eq!((lost, dup), (0, 0), "lost, duplicated");
}

#[test]
fn the_tracker_works_as_a_role_with_only_the_documented_grants() {
    let db = TestDb::new("ingest_role");
    let role = db.create_role("tracker", "");
    grant_tracker_rights(&db, &role);
    let dir = tempdir();
    let queue = dir.path().join("queue.sqlite");
    // 11 runs; runs 3 and 10 fail. The job_log trigger (fired by the tracker's updates)
    // must record the last one, after OK runs cleared the first.
    fill_queue(&queue, 0, 44, 1);
    let config = write_config(
        dir.path(),
        &db,
        &[SourceSpec::local("dwh1", &queue, true)],
        "1s",
        1000,
        "5s",
    );
    let text = std::fs::read_to_string(&config).unwrap();
    let superuser = format!("user = \"{}\"", jobmon_tests::cluster().superuser);
    std::fs::write(
        &config,
        text.replace(&superuser, &format!("user = \"{role}\"")),
    )
    .unwrap();
    assert_ok(&run_once(BIN, &config));
    let mut c = db.connect();
    assert_eq!(message_count(&mut c, "dwh1"), 44);
    let failed: i64 = c
        .query_one("SELECT count(*) FROM jobmon.job_check_log", &[])
        .unwrap()
        .get(0);
    assert_eq!(failed, 1, "only run 10's failure is consecutive");
}

/// job_check_log, job_log's statuses and escalation steps after ingesting `runs` (per job, in
/// queue order: `true` = failed) with `batch` messages per transaction.
/// job_check_log rows (job, code), job_log statuses (job, status), escalation steps.
type Bookkeeping = (Vec<(String, i32)>, Vec<(String, String)>, i64);

fn alert_bookkeeping(batch: u32) -> Bookkeeping {
    let db = TestDb::new(&format!("ingest_alerts_{batch}"));
    let mut c = db.connect();
    c.batch_execute(
        "INSERT INTO jobmon.job_check_config (job_name, warn_threshold, error_threshold, active, escalate)
         VALUES ('A__P', '1 day', '2 days', true, 2);
         INSERT INTO jobmon.job_status_text (alert_code, alert_text) VALUES (4, 'ESCALATED CRITICAL');",
    )
    .unwrap();
    let dir = tempdir();
    let queue = dir.path().join("queue.sqlite");
    let runs: [(&str, &[bool]); 2] = [
        ("A", &[true, true, false, true, true, true, true]),
        ("B", &[true, false, true, true]),
    ];
    let mut msgs = Vec::new();
    for i in 0..7 {
        for (job, outcomes) in &runs {
            let Some(failed) = outcomes.get(i) else {
                continue;
            };
            let mut events = vec!["STARTED"];
            if *failed {
                events.push("ERROR");
            }
            events.push("SUCCESS");
            for e in events {
                msgs.push(tracker_worker::queue::NewMessage {
                    instance: Some("P".into()),
                    job: Some((*job).into()),
                    event: Some(e.into()),
                    message: None,
                });
            }
        }
    }
    tracker_worker::queue::Queue::open_or_create(&queue)
        .unwrap()
        .add_all(&msgs)
        .unwrap();
    let config = write_config(
        dir.path(),
        &db,
        &[SourceSpec::local("src", &queue, true)],
        "1s",
        batch,
        "5s",
    );
    assert_ok(&run_once(BIN, &config));
    let check_log = c
        .query(
            "SELECT job_name, alert_code FROM jobmon.job_check_log ORDER BY job_id",
            &[],
        )
        .unwrap()
        .iter()
        .map(|r| (r.get(0), r.get(1)))
        .collect();
    let statuses = c
        .query(
            "SELECT job_name, status FROM jobmon.job_log ORDER BY job_id",
            &[],
        )
        .unwrap()
        .iter()
        .map(|r| (r.get(0), r.get(1)))
        .collect();
    let escalations: i64 = c
        .query_one(
            "SELECT count(*) FROM jobmon.job_detail WHERE action = 'ALERT ESCALATION'",
            &[],
        )
        .unwrap()
        .get(0);
    (check_log, statuses, escalations)
}

#[test]
fn failure_counts_and_escalation_do_not_depend_on_how_runs_fall_into_batches() {
    // One message per batch: every run is ended by an UPDATE in a later batch, through
    // job_log's trigger. That is the reference for runs opened and ended in one batch.
    let reference = alert_bookkeeping(1);
    let (check_log, _, escalations) = &reference;
    let a: Vec<i32> = check_log
        .iter()
        .filter(|(j, _)| j == "A__P")
        .map(|(_, c)| *c)
        .collect();
    let b: Vec<i32> = check_log
        .iter()
        .filter(|(j, _)| j == "B__P")
        .map(|(_, c)| *c)
        .collect();
    assert_eq!(b, vec![3, 3], "B: the two failures after its success");
    assert_eq!(a.len(), 4, "A: the four failures after its success: {a:?}");
    assert!(*escalations > 0, "A escalates after 2 alerts");
    for batch in [4, 1000] {
        assert_eq!(alert_bookkeeping(batch), reference, "batch size {batch}");
    }
}

/// `_tracker_add_steps` skips job_detail's per-row foreign key trigger, so it must do that
/// trigger's work itself: refuse a step of a run that does not exist (with the constraint's
/// error), lock the runs it adds steps to, and be usable only by roles granted it.
#[test]
fn the_bulk_step_function_keeps_the_foreign_key_and_is_not_public() {
    let db = TestDb::new("ingest_add_steps");
    let mut c = db.connect();
    let run: i64 = c
        .query_one("SELECT jobmon.add_job('BULK STEPS')", &[])
        .unwrap()
        .get(0);
    let call = "SELECT jobmon._tracker_add_steps($1, ARRAY['A','B'], ARRAY[now(), now()], \
                ARRAY['OK','OK'], ARRAY['first', NULL])";

    let missing = run + 1000;
    let err = c.execute(call, &[&vec![run, missing]]).unwrap_err();
    let db_err = err.as_db_error().expect("a server error");
    assert_eq!(db_err.code().code(), "23503", "{db_err:?}");
    assert_eq!(
        db_err.detail(),
        Some(format!("Key (job_id)=({missing}) is not present in table \"job_log\".").as_str())
    );

    // The run is locked until the steps commit: deleting it from another session waits.
    let mut tx = c.transaction().unwrap();
    tx.execute(call, &[&vec![run, run]]).unwrap();
    let mut other = db.connect();
    other.batch_execute("SET lock_timeout = '200ms'").unwrap();
    let blocked = other
        .execute("DELETE FROM jobmon.job_log WHERE job_id = $1", &[&run])
        .unwrap_err();
    assert_eq!(
        blocked.code().map(|c| c.code()),
        Some("55P03"),
        "{blocked:?}"
    );
    tx.commit().unwrap();
    let steps: Vec<(String, Option<String>)> = c
        .query(
            "SELECT action, message FROM jobmon.job_detail WHERE job_id = $1 ORDER BY step_id",
            &[&run],
        )
        .unwrap()
        .iter()
        .map(|r| (r.get(0), r.get(1)))
        .collect();
    assert_eq!(
        steps,
        vec![
            ("A".to_owned(), Some("first".to_owned())),
            ("B".to_owned(), None)
        ]
    );

    // A role with every table right but not the function's grant cannot use it.
    let role = db.create_role("writer", "");
    c.batch_execute(&format!(
        "GRANT USAGE ON SCHEMA jobmon TO \"{role}\";
         GRANT SELECT, INSERT ON jobmon.job_log, jobmon.job_detail TO \"{role}\";"
    ))
    .unwrap();
    let mut writer = db.connect_as(&role);
    let denied = writer.execute(call, &[&vec![run, run]]).unwrap_err();
    assert_eq!(denied.code().map(|c| c.code()), Some("42501"), "{denied:?}");
}
