//! Several trackers on one database: balanced leases (3 trackers on 30 sources, one killed,
//! a fourth joining, with producers writing all the time and every message counted), Checkmk
//! piggyback (each job's service under its source's host, before and after a fail-over),
//! and the tracker's own Prometheus metrics.

use jobmon_tests::tracker::{
    eventually, fill_queue, lost_and_duplicated, message_count, stored_numbers, tempdir, toml_str,
    write_config, SourceSpec, TrackerProcess,
};
use jobmon_tests::TestDb;
use postgres::Client;
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tracker_worker::queue::{NewMessage, Queue};

/// The end of every tracker's log, for failure messages.
fn logs(trackers: &[TrackerProcess]) -> String {
    trackers
        .iter()
        .map(|t| {
            let text = t.log_text();
            let lines: Vec<&str> = text
                .lines()
                .filter(|l| l.starts_with("20") && !l.contains("tokio_postgres"))
                .collect();
            let tail = lines[lines.len().saturating_sub(30)..].join("\n");
            format!("--- tracker {}:\n{tail}\n", t.pid())
        })
        .collect()
}

const BIN: &str = env!("CARGO_BIN_EXE_tracker");

/// poll_interval and source_timeout of these tests; a lease lasts 2 x (poll + timeout).
const POLL: Duration = Duration::from_millis(300);
const SOURCE_TIMEOUT: Duration = Duration::from_secs(1);
const LEASE: Duration = Duration::from_millis(2 * (300 + 1000));

fn ms(d: Duration) -> String {
    format!("{}ms", d.as_millis())
}

/// Trackers connected to the database (holders of the presence lock), as lease.sql counts them.
fn live_trackers(c: &mut Client) -> i64 {
    c.query_one(
        "SELECT count(DISTINCT objid) FROM pg_locks
          WHERE locktype = 'advisory' AND granted AND objsubid = 2
            AND classid = (hashtext('jobmon-tracker presence')::bigint & 4294967295)::oid",
        &[],
    )
    .unwrap()
    .get(0)
}

/// Sources held (unexpired lease) by each tracker process, by pid; 0 for those holding none.
fn held_by(c: &mut Client, trackers: &[&TrackerProcess]) -> Vec<i64> {
    let rows = c
        .query(
            "SELECT lease_owner, count(*) FROM jobmon.tracker_source
              WHERE lease_until > now() GROUP BY lease_owner",
            &[],
        )
        .unwrap();
    trackers
        .iter()
        .map(|t| {
            let mark = format!(":{}:", t.pid());
            rows.iter()
                .filter(|r| {
                    r.get::<_, Option<String>>(0)
                        .is_some_and(|o| o.contains(&mark))
                })
                .map(|r| r.get::<_, i64>(1))
                .sum()
        })
        .collect()
}

/// Waits until `ok` holds for the trackers' shares; the shares last seen and the time taken.
fn wait_for_shares(
    c: &mut Client,
    trackers: &[&TrackerProcess],
    timeout: Duration,
    ok: impl Fn(&[i64]) -> bool,
) -> (Vec<i64>, Duration, bool) {
    let started = Instant::now();
    let mut last = Vec::new();
    let reached = eventually(timeout, || {
        last = held_by(c, trackers);
        ok(&last)
    });
    (last, started.elapsed(), reached)
}

/// Waits until `trackers` are all connected, then until they hold 10 +/- 1 of the 30
/// sources each, which must take at most two lease periods.
fn assert_fair_within_two_leases(c: &mut Client, trackers: &[TrackerProcess], what: &str) {
    assert!(
        eventually(Duration::from_secs(20), || live_trackers(c)
            == trackers.len() as i64),
        "{what}: the trackers never connected: {}",
        logs(trackers)
    );
    let fair = |s: &[i64]| s.iter().sum::<i64>() == 30 && s.iter().all(|&n| (9..=11).contains(&n));
    let refs: Vec<&TrackerProcess> = trackers.iter().collect();
    let (shares, took, ok) = wait_for_shares(c, &refs, 4 * LEASE, fair);
    eprintln!("{what}: shares {shares:?} after {took:?}");
    assert!(ok, "{what}: shares {shares:?}\n{}", logs(trackers));
    assert!(
        took <= 2 * LEASE,
        "{what}: balanced only after {took:?}, more than two lease periods ({:?})",
        2 * LEASE
    );
}

/// Appends a few messages to every queue in rounds until stopped, numbering each queue's
/// messages on from `first`; returns how many each queue holds then in all.
fn start_producer(
    queues: Vec<PathBuf>,
    first: u64,
    stop: Arc<AtomicBool>,
) -> std::thread::JoinHandle<Vec<u64>> {
    std::thread::spawn(move || {
        let mut written = vec![first; queues.len()];
        while !stop.load(Ordering::SeqCst) {
            for (q, n) in queues.iter().zip(written.iter_mut()) {
                fill_queue(q, *n, 4, 2);
                *n += 4;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        written
    })
}

#[test]
fn three_trackers_share_thirty_sources_fairly_a_killed_ones_are_taken_over_a_fourth_gets_its_share_and_no_message_is_lost_or_doubled(
) {
    let db = TestDb::new("scale_leases");
    let dir = tempdir();
    let names: Vec<String> = (0..30).map(|i| format!("s{i:02}")).collect();
    let queues: Vec<PathBuf> = names
        .iter()
        .map(|n| dir.path().join(format!("{n}.sqlite")))
        .collect();
    let sources: Vec<SourceSpec> = names
        .iter()
        .zip(&queues)
        .map(|(n, q)| SourceSpec::local(n, q, true))
        .collect();
    for q in &queues {
        fill_queue(q, 0, 4, 2);
    }
    let config = write_config(
        dir.path(),
        &db,
        &sources,
        &ms(POLL),
        100,
        &ms(SOURCE_TIMEOUT),
    );
    let stop = Arc::new(AtomicBool::new(false));
    let log = |n: &str| dir.path().join(format!("{n}.log"));
    let mut c = db.connect();

    let producer = start_producer(queues.clone(), 4, Arc::clone(&stop));
    let mut trackers: Vec<TrackerProcess> = ["a", "b", "c"]
        .iter()
        .map(|n| TrackerProcess::spawn(BIN, &config, &log(n)))
        .collect();
    // Two lease periods from the moment all three are connected.
    assert_fair_within_two_leases(&mut c, &trackers, "3 trackers on 30 sources");

    // SIGKILL one: the two others take its sources over, 15 each.
    let mut victim = trackers.remove(2);
    victim.signal(libc::SIGKILL);
    victim.wait_exit(Duration::from_secs(5));
    let refs: Vec<&TrackerProcess> = trackers.iter().collect();
    let (shares, took, ok) = wait_for_shares(&mut c, &refs, 6 * LEASE, |s| s == [15, 15]);
    eprintln!("after a SIGKILL: shares {shares:?} after {took:?}");
    assert!(
        ok,
        "after one of 3 was killed: shares {shares:?}\n{}",
        logs(&trackers)
    );
    // Its sources are free once its leases run out: one lease period, plus a poll.
    assert!(took <= 2 * LEASE, "taken over after {took:?}");

    // A fourth joins: the shares shrink to 10 each again, the newcomer's included, within
    // two lease periods of its connecting.
    trackers.push(TrackerProcess::spawn(BIN, &config, &log("d")));
    assert_fair_within_two_leases(&mut c, &trackers, "a fourth joined");

    stop.store(true, Ordering::SeqCst);
    let expected = producer.join().unwrap();
    let all_in = eventually(Duration::from_secs(30), || {
        names
            .iter()
            .zip(&expected)
            .all(|(s, &n)| message_count(&mut c, s) as u64 >= n)
    });
    assert!(all_in, "not every message was stored");
    // A few more polls: a late duplicate would show.
    std::thread::sleep(3 * POLL);
    let mut total = 0;
    for (s, &n) in names.iter().zip(&expected) {
        let (lost, dup) = lost_and_duplicated(&stored_numbers(&mut c, s), n);
        assert_eq!((lost, dup), (0, 0), "source {s}: lost, duplicated of {n}");
        total += n;
    }
    eprintln!("{total} messages written during the run, each stored once");
    for t in &trackers {
        assert!(
            !t.log_text().contains("was changed by another tracker"),
            "two trackers read one source at once: {}",
            t.log_text()
        );
    }
}

/// Services by Checkmk host in agent output: `<<<<host>>>>` switches to a piggybacked host
/// (`<<<<>>>>` back to the agent's own, the key ""), `<<<name>>>` starts a section, and in a
/// `local` section each line's service is the text between its first two double quotes.
/// Any other line outside a local section is an error.
fn services_by_host(text: &str) -> BTreeMap<String, BTreeSet<String>> {
    let mut out: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    let mut host = String::new();
    let mut section = String::new();
    for line in text.lines() {
        if let Some(h) = line
            .strip_prefix("<<<<")
            .and_then(|r| r.strip_suffix(">>>>"))
        {
            host = h.to_owned();
            section.clear();
        } else if let Some(s) = line.strip_prefix("<<<").and_then(|r| r.strip_suffix(">>>")) {
            section = s.to_owned();
        } else if section.split(':').next() == Some("local") {
            let service = line
                .split('"')
                .nth(1)
                .unwrap_or_else(|| panic!("local-check line without a quoted service: {line}"));
            out.entry(host.clone())
                .or_default()
                .insert(service.to_owned());
        } else if !line.is_empty() {
            panic!("line outside any local section: {line:?} in\n{text}");
        }
    }
    out
}

fn write_messages(queue: &Path, messages: &[(&str, &str)]) {
    let msgs: Vec<NewMessage> = messages
        .iter()
        .map(|(job, event)| NewMessage {
            instance: Some("p".into()),
            job: Some((*job).into()),
            event: Some((*event).into()),
            message: Some(format!("{job} {event}")),
        })
        .collect();
    Queue::open_or_create(queue)
        .unwrap()
        .add_all(&msgs)
        .unwrap();
}

/// A tracker configuration in `dir` with `extra` (output and jobs tables) appended.
fn config_with(dir: &Path, db: &TestDb, sources: &[SourceSpec], extra: &str) -> PathBuf {
    fs::create_dir_all(dir).unwrap();
    let path = write_config(dir, db, sources, &ms(POLL), 100, &ms(SOURCE_TIMEOUT));
    let mut text = fs::read_to_string(&path).unwrap();
    text.push_str(extra);
    fs::write(&path, text).unwrap();
    path
}

#[test]
fn piggyback_puts_each_job_under_its_source_host_whichever_tracker_reports_it_and_a_fail_over_moves_nothing(
) {
    let db = TestDb::new("scale_piggyback");
    let dir = tempdir();
    let queues: Vec<PathBuf> = (0..4)
        .map(|k| dir.path().join(format!("s{k}.sqlite")))
        .collect();
    for (k, q) in queues.iter().enumerate() {
        let job = format!("load_s{k}");
        write_messages(q, &[(&job, "STARTED"), (&job, "SUCCESS")]);
    }
    // A job without a `source` goes where its latest message came from.
    write_messages(&queues[3], &[("free_job", "STARTED")]);
    let hosts = [Some("dwh-a"), Some("dwh-b"), None, None];
    let sources: Vec<SourceSpec> = queues
        .iter()
        .zip(hosts)
        .enumerate()
        .map(|(k, (q, host))| {
            let mut body = format!(
                "name = \"s{k}\"\nlocal_queue = {}\ndelete_after_commit = true\n",
                toml_str(&q.to_string_lossy())
            );
            if let Some(h) = host {
                body.push_str(&format!("checkmk_host = {}\n", toml_str(h)));
            }
            SourceSpec::Raw(body)
        })
        .collect();
    let mut jobs = String::new();
    for k in 0..4 {
        jobs.push_str(&format!(
            "[[jobs]]\nname = \"load_s{k}\"\nenv = \"p\"\nsource = \"s{k}\"\ncyclic = {{ interval = \"1h\" }}\n\n"
        ));
    }
    jobs.push_str("[[jobs]]\nname = \"free_job\"\nenv = \"p\"\ncyclic = { interval = \"1h\" }\n");
    let spool = |name: &str| dir.path().join(name).join("600_jobmon.txt");
    let config = |name: &str| {
        let extra = format!(
            "\n[output]\nspool_file = {}\npiggyback = true\n\n{jobs}",
            toml_str(&spool(name).to_string_lossy())
        );
        config_with(&dir.path().join(name), &db, &sources, &extra)
    };
    let (config_a, config_b) = (config("a"), config("b"));
    let expected: BTreeMap<String, BTreeSet<String>> = [
        ("dwh-a", vec!["load_s0_p"]),
        ("dwh-b", vec!["load_s1_p"]),
        ("s2", vec!["load_s2_p"]),
        ("s3", vec!["load_s3_p", "free_job_p"]),
    ]
    .into_iter()
    .map(|(h, s)| (h.to_owned(), s.into_iter().map(String::from).collect()))
    .collect();
    let read = |name: &str| services_by_host(&fs::read_to_string(spool(name)).unwrap_or_default());
    let merged = |maps: &[BTreeMap<String, BTreeSet<String>>]| {
        let mut all: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
        for m in maps {
            for (h, s) in m {
                all.entry(h.clone()).or_default().extend(s.iter().cloned());
            }
        }
        all
    };

    let mut trackers = vec![
        TrackerProcess::spawn(BIN, &config_a, &dir.path().join("a.log")),
        TrackerProcess::spawn(BIN, &config_b, &dir.path().join("b.log")),
    ];
    let mut c = db.connect();
    // Both hold two sources; between them they report every job once, under its host.
    let both_report = eventually(Duration::from_secs(30), || {
        let (a, b) = (read("a"), read("b"));
        let services =
            |m: &BTreeMap<String, BTreeSet<String>>| m.values().map(BTreeSet::len).sum::<usize>();
        held_by(&mut c, &[&trackers[0], &trackers[1]]) == [2, 2]
            && merged(&[a.clone(), b.clone()]) == expected
            && services(&a) + services(&b) == 5
    });
    let (a, b) = (read("a"), read("b"));
    assert!(
        both_report,
        "two trackers: a {a:?}, b {b:?}, expected {expected:?}\n{}",
        logs(&trackers)
    );
    assert!(
        !a.contains_key("") && !b.contains_key(""),
        "a service on a tracker's own host"
    );
    assert!(
        !a.is_empty() && !b.is_empty(),
        "one tracker reports nothing: a {a:?}, b {b:?}"
    );

    // SIGKILL one: the survivor takes its sources over and reports the same services under
    // the same hosts.
    let mut victim = trackers.remove(0);
    victim.signal(libc::SIGKILL);
    victim.wait_exit(Duration::from_secs(5));
    let survivor = if victim.log == dir.path().join("a.log") {
        "b"
    } else {
        "a"
    };
    let took_over = eventually(Duration::from_secs(30), || read(survivor) == expected);
    assert!(
        took_over,
        "after the fail-over: {:?}, expected {expected:?}\n{}",
        read(survivor),
        logs(&trackers)
    );

    // `check` (on the same host as the trackers) prints the same sections; `check --sources`
    // names the survivor as the holder of every source.
    let survivor_config = if survivor == "a" {
        &config_a
    } else {
        &config_b
    };
    let out = Command::new(BIN)
        .args(["check", "-c"])
        .arg(survivor_config)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(out.status.success(), "{text}");
    assert_eq!(services_by_host(&text), expected, "{text}");
    assert!(text.ends_with("<<<<>>>>\n<<<local:sep(0)>>>\n"), "{text}");
    let out = Command::new(BIN)
        .args(["check", "--sources", "-c"])
        .arg(survivor_config)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(out.status.success(), "{text}");
    let mark = format!(":{}:", trackers[0].pid());
    let rows: Vec<&str> = text.lines().skip(1).collect();
    assert_eq!(rows.len(), 4, "{text}");
    for (k, row) in rows.iter().enumerate() {
        assert!(
            row.starts_with(&format!("s{k} ")) && row.contains(&mark),
            "{text}"
        );
    }
}

/// Samples of a Prometheus text file by `name{labels}`, and each family's TYPE.
fn prometheus_samples(text: &str) -> (HashMap<String, f64>, HashMap<String, String>) {
    let mut samples = HashMap::new();
    let mut types = HashMap::new();
    for line in text.lines() {
        if let Some(rest) = line.strip_prefix("# TYPE ") {
            let (name, kind) = rest.split_once(' ').expect("TYPE line");
            types.insert(name.to_owned(), kind.to_owned());
        } else if !line.starts_with('#') && !line.is_empty() {
            let (key, value) = line.rsplit_once(' ').expect("sample line");
            samples.insert(key.to_owned(), value.parse().expect("sample value"));
        }
    }
    (samples, types)
}

#[test]
fn self_metrics_count_stored_and_rejected_messages_and_show_a_failing_source() {
    let db = TestDb::new("scale_metrics");
    let dir = tempdir();
    let good = dir.path().join("good.sqlite");
    let late = dir.path().join("late.sqlite");
    fill_queue(&good, 0, 10, 2);
    let prom = dir.path().join("jobmon.prom");
    let config = config_with(
        dir.path(),
        &db,
        &[
            SourceSpec::local("good", &good, true),
            SourceSpec::local("late", &late, true),
        ],
        &format!(
            "\n[output]\nprometheus_file = {}\n",
            toml_str(&prom.to_string_lossy())
        ),
    );
    let started = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs_f64();
    let trackers = vec![TrackerProcess::spawn(
        BIN,
        &config,
        &dir.path().join("t.log"),
    )];
    let read = || prometheus_samples(&fs::read_to_string(&prom).unwrap_or_default());
    let get = |s: &HashMap<String, f64>, k: &str| s.get(k).copied();

    // The queue of `late` does not exist yet: its polls fail.
    let first = eventually(Duration::from_secs(30), || {
        let (s, _) = read();
        get(&s, "jobmon_tracker_messages_stored_total{source=\"good\"}") == Some(10.0)
            && get(&s, "jobmon_tracker_source_failing{source=\"late\"}") == Some(1.0)
    });
    let (s, types) = read();
    assert!(first, "{s:?}\n{}", logs(&trackers));
    assert!(get(&s, "jobmon_tracker_source_errors_total{source=\"late\"}").unwrap_or(0.0) >= 1.0);
    assert_eq!(
        get(&s, "jobmon_tracker_source_failing{source=\"good\"}"),
        Some(0.0)
    );
    assert_eq!(
        get(
            &s,
            "jobmon_tracker_messages_rejected_total{source=\"good\"}"
        ),
        Some(0.0)
    );
    assert_eq!(
        get(&s, "jobmon_tracker_source_lag_seconds{source=\"good\"}"),
        Some(0.0)
    );
    assert_eq!(
        get(&s, "jobmon_tracker_source_lag_seconds{source=\"late\"}"),
        None
    );
    assert_eq!(get(&s, "jobmon_tracker_sources_held"), Some(2.0));
    // No poll has read every source yet.
    assert_eq!(
        get(&s, "jobmon_tracker_last_poll_success_timestamp_seconds"),
        None
    );
    assert!(get(&s, "jobmon_tracker_poll_duration_seconds").is_some());
    for family in [
        "jobmon_tracker_messages_stored_total",
        "jobmon_tracker_messages_rejected_total",
        "jobmon_tracker_source_errors_total",
    ] {
        assert_eq!(
            types.get(family).map(String::as_str),
            Some("counter"),
            "{family}"
        );
    }

    // 5 more messages and 2 unusable ones; the late queue appears with 3.
    fill_queue(&good, 10, 5, 2);
    let bad = NewMessage {
        instance: Some("p".into()),
        job: None,
        event: Some("STARTED".into()),
        message: None,
    };
    Queue::open(&good)
        .unwrap()
        .add_all(&[bad.clone(), bad])
        .unwrap();
    fill_queue(&late, 0, 3, 1);
    let second = eventually(Duration::from_secs(30), || {
        let (s, _) = read();
        get(&s, "jobmon_tracker_messages_stored_total{source=\"good\"}") == Some(15.0)
            && get(
                &s,
                "jobmon_tracker_messages_rejected_total{source=\"good\"}",
            ) == Some(2.0)
            && get(&s, "jobmon_tracker_messages_stored_total{source=\"late\"}") == Some(3.0)
            && get(&s, "jobmon_tracker_source_failing{source=\"late\"}") == Some(0.0)
    });
    let (s, _) = read();
    assert!(second, "{s:?}\n{}", logs(&trackers));
    let last_poll = get(&s, "jobmon_tracker_last_poll_success_timestamp_seconds");
    assert!(
        last_poll.is_some_and(|t| t >= started),
        "{last_poll:?} before {started}"
    );
    assert_eq!(
        get(&s, "jobmon_tracker_source_lag_seconds{source=\"late\"}"),
        Some(0.0)
    );
    // The counters agree with what PostgreSQL counted for each source.
    let mut c = db.connect();
    for (source, stored, rejected) in [("good", 15, 2), ("late", 3, 0)] {
        let row = c
            .query_one(
                "SELECT messages_stored, messages_rejected FROM jobmon.tracker_source WHERE source = $1",
                &[&source],
            )
            .unwrap();
        assert_eq!(
            (row.get::<_, i64>(0), row.get::<_, i64>(1)),
            (stored, rejected),
            "{source}"
        );
    }
}
