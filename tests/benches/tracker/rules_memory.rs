//! Scenario 5: one evaluation of the timing rules over 100,000 jobs on one core (against a
//! pass that only counts the same events), and the resident memory of the `run` daemon
//! with 10,000 jobs and 100 sources (against the same binary with one source and one job).

use super::workload::{evaluate_all, workload, Workload};
use super::{local_source, thousands, TrackerConfig, BIN};
use crate::{ms, progress, ratio, stats, verdict, Options};
use jobmon_tests::tracker::{tempdir, toml_str, TrackerProcess};
use jobmon_tests::{error_text, TestDb};
use std::fmt::Write as _;
use std::hint::black_box;
use std::time::{Duration, Instant};
use tracker_worker::queue::{NewMessage, Queue};
use tracker_worker::rules::EventKind;

const RULE_JOBS: usize = 100_000;
const TARGET_MS: f64 = 50.0;
const TARGET_MB: f64 = 100.0;
/// Messages per configured job in the memory runs: STARTED, SUCCESS, STARTED (a finished
/// run and a running one).
const EVENTS_PER_JOB: u64 = 3;

/// Pins the calling thread to one CPU (the last it may use); returns that CPU and the mask
/// to restore, or None where the kernel refuses.
fn pin_to_one_cpu() -> Option<(usize, libc::cpu_set_t)> {
    // SAFETY: a zeroed cpu_set_t is a valid empty set; the calls get its real size and
    // only touch the calling thread (pid 0).
    unsafe {
        let mut old: libc::cpu_set_t = std::mem::zeroed();
        let size = std::mem::size_of::<libc::cpu_set_t>();
        if libc::sched_getaffinity(0, size, &mut old) != 0 {
            return None;
        }
        let cpu = (0..libc::CPU_SETSIZE as usize)
            .rev()
            .find(|&c| libc::CPU_ISSET(c, &old))?;
        let mut one: libc::cpu_set_t = std::mem::zeroed();
        libc::CPU_SET(cpu, &mut one);
        (libc::sched_setaffinity(0, size, &one) == 0).then_some((cpu, old))
    }
}

fn unpin(old: &libc::cpu_set_t) {
    // SAFETY: restores a mask sched_getaffinity returned, for the calling thread only.
    unsafe {
        libc::sched_setaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), old);
    }
}

/// The floor: one pass over the same events that reads each one's kind and time and
/// counts them, with no rule applied.
fn count_events(w: &Workload) -> [usize; 5] {
    let mut counts = [0; 5];
    for events in &w.events {
        for e in events {
            let kind = match e.kind {
                EventKind::Start => 0,
                EventKind::Error => 1,
                EventKind::End => 2,
                EventKind::Other(_) => 3,
            };
            counts[kind] += 1;
            counts[4] += usize::from(e.at <= w.now);
        }
    }
    counts
}

/// Milliseconds of each of `iterations` calls of `f` after two warm-up calls.
fn time_ms<T>(iterations: usize, mut f: impl FnMut() -> T) -> Vec<f64> {
    for _ in 0..2 {
        black_box(f());
    }
    (0..iterations)
        .map(|_| {
            let t = Instant::now();
            black_box(f());
            t.elapsed().as_secs_f64() * 1000.0
        })
        .collect()
}

fn rules(options: &Options, report: &mut String) -> Result<(), String> {
    let iterations = if options.quick { 5 } else { 20 };
    progress(&format!(
        "scenario 5: building the rule workload of {} jobs",
        thousands(RULE_JOBS as u64)
    ));
    let pinned = pin_to_one_cpu();
    let t = Instant::now();
    let w = workload(RULE_JOBS);
    let build_secs = t.elapsed().as_secs_f64();
    let events: usize = w.events.iter().map(Vec::len).sum();
    progress("scenario 5: timing the rule evaluation");
    let states = evaluate_all(&w);
    let eval = stats(&time_ms(iterations, || evaluate_all(black_box(&w))));
    let floor = stats(&time_ms(iterations, || count_events(black_box(&w))));
    if let Some((_, old)) = &pinned {
        unpin(old);
    }
    let per_job_us = eval.median * 1000.0 / RULE_JOBS as f64;
    writeln!(
        report,
        "### Scenario 5: rule engine and memory\n\n\
         #### Rule evaluation\n\n\
         `tests/benches/tracker/workload.rs`, `workload({})`: jobs in Europe/Berlin (half cyclic, a \
         third daily, the rest cron; some with a timeout, a minimum run time, a quiet window) \
         with their last two runs, {} events in all, evaluated at a fixed time on the autumn \
         DST change day; built once in {:.1} s. {iterations} timed calls after 2 warm-ups, {}. \
         Result: {} OK, {} WARNING, {} CRITICAL, {} UNKNOWN.\n\n\
         | pass | median | min | max | per job | x floor | target |\n|---|---:|---:|---:|---:|---:|---|\n\
         | floor: one pass counting the same events by kind and time | {} | {} | {} | | | |\n\
         | **`evaluate_all`: every job's rules** | {} | {} | {} | {per_job_us:.2} µs | {} | 50 ms: {} |\n",
        thousands(RULE_JOBS as u64),
        thousands(events as u64),
        build_secs,
        match &pinned {
            Some((cpu, _)) => format!("the benchmark's thread pinned to CPU {cpu} (one core, single-threaded)"),
            None => "single-threaded (pinning to one CPU was refused)".to_string(),
        },
        thousands(states[0] as u64),
        thousands(states[1] as u64),
        thousands(states[2] as u64),
        thousands(states[3] as u64),
        ms(floor.median),
        ms(floor.min),
        ms(floor.max),
        ms(eval.median),
        ms(eval.min),
        ms(eval.max),
        ratio(eval.median / floor.median),
        verdict(eval.median <= TARGET_MS),
    )
    .ok();
    Ok(())
}

/// A `[[jobs]]` body: job `i` of source `source`, cyclic, daily or cron in turn.
fn job_toml(i: usize, source: &str) -> String {
    let schedule = match i % 3 {
        0 => format!("cyclic = {{ interval = \"{}m\" }}", 5 * (1 + i % 12)),
        1 => format!(
            "daily = {{ start = \"{:02}:{:02}\", start_max_delay = \"30m\" }}",
            i % 24,
            i % 60
        ),
        _ => "cron = { expression = \"*/15 * * * *\", start_max_delay = \"10m\" }".to_string(),
    };
    format!(
        "name = {}\nenv = \"P\"\nsource = {}\n{schedule}\ntimeout = \"1h\"\n",
        toml_str(&job_name(i)),
        toml_str(source)
    )
}

fn job_name(i: usize) -> String {
    format!("JOB_{i:05}")
}

/// What one daemon run showed.
struct MemoryRun {
    /// VmHWM, the peak resident set, in kB.
    peak_kb: u64,
    /// VmRSS at the last sample before SIGTERM, in kB.
    end_kb: u64,
    /// Seconds from the start until every message was in tracker_message.
    all_stored_after: f64,
    state_files: usize,
    spool_bytes: u64,
}

/// `/proc/<pid>/status` fields VmRSS and VmHWM, in kB.
fn rss_kb(pid: i32) -> Option<(u64, u64)> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let field = |name: &str| -> Option<u64> {
        text.lines()
            .find_map(|l| l.strip_prefix(name))?
            .split_whitespace()
            .next()?
            .parse()
            .ok()
    };
    Some((field("VmRSS:")?, field("VmHWM:")?))
}

/// Runs `jobmon-tracker run` (poll every second) with `jobs` jobs spread over `sources`
/// local queues, each job with its messages queued, for `seconds`, sampling its memory
/// four times a second; then SIGTERM. Fails if not every message was stored by then.
fn memory_run(jobs: usize, sources: usize, seconds: u64) -> Result<MemoryRun, String> {
    let dir = tempdir();
    let mut source_bodies = Vec::with_capacity(sources);
    for s in 0..sources {
        let name = format!("src{s:03}");
        let queue = dir.path().join(format!("{name}.sqlite"));
        let msgs: Vec<NewMessage> = (s..jobs)
            .step_by(sources)
            .flat_map(|i| {
                ["STARTED", "SUCCESS", "STARTED"].map(|event| NewMessage {
                    instance: Some("P".into()),
                    job: Some(job_name(i)),
                    event: Some(event.into()),
                    message: Some(format!("{event} {i}")),
                })
            })
            .collect();
        Queue::open_or_create(&queue)
            .and_then(|mut q| q.add_all(&msgs))
            .map_err(|e| e.to_string())?;
        source_bodies.push(local_source(&name, &queue));
    }
    let job_bodies: Vec<String> = (0..jobs)
        .map(|i| job_toml(i, &format!("src{:03}", i % sources)))
        .collect();
    let expected = jobs as i64 * EVENTS_PER_JOB as i64;
    let db = TestDb::new("bench_memory");
    let out = dir.path().join("out");
    let config = TrackerConfig {
        poll: "1s",
        batch: 1000,
        source_timeout: "30s",
        output: Some(&out),
        sources: &source_bodies,
        jobs: &job_bodies,
    }
    .write(dir.path(), &db)?;
    let mut c = db.connect();
    let mut tracker = TrackerProcess::spawn(BIN, &config, &dir.path().join("tracker.log"));
    let pid = tracker.pid();
    let started = Instant::now();
    let (mut peak_kb, mut end_kb) = (0, 0);
    let mut all_stored_after = None;
    while started.elapsed() < Duration::from_secs(seconds) {
        if let Ok(Some(status)) = tracker.child.try_wait() {
            return Err(format!(
                "jobmon-tracker run exited early ({status}); its log:\n{}",
                tracker.log_text()
            ));
        }
        if let Some((rss, hwm)) = rss_kb(pid) {
            end_kb = rss;
            peak_kb = peak_kb.max(hwm);
        }
        if all_stored_after.is_none() {
            let n: i64 = c
                .query_one("SELECT count(*) FROM jobmon.tracker_message", &[])
                .map_err(|e| error_text(&e))?
                .get(0);
            if n == expected {
                all_stored_after = Some(started.elapsed().as_secs_f64());
            }
        }
        std::thread::sleep(Duration::from_millis(250));
    }
    tracker.signal(libc::SIGTERM);
    match tracker.wait_exit(Duration::from_secs(60)) {
        Some(status) if status.success() => {}
        other => {
            return Err(format!(
                "jobmon-tracker run did not stop cleanly on SIGTERM ({other:?}); its log:\n{}",
                tracker.log_text()
            ))
        }
    }
    let all_stored_after = all_stored_after.ok_or_else(|| {
        format!(
            "not all {expected} messages were stored within {seconds} s; the tracker's log:\n{}",
            tracker.log_text()
        )
    })?;
    Ok(MemoryRun {
        peak_kb,
        end_kb,
        all_stored_after,
        state_files: std::fs::read_dir(out.join("state")).map_or(0, |d| d.count()),
        spool_bytes: std::fs::metadata(out.join("600_jobmon.txt")).map_or(0, |m| m.len()),
    })
}

fn mb(kb: f64) -> String {
    format!("{:.1} MB", kb * 1024.0 / 1e6)
}

fn memory(options: &Options, report: &mut String) -> Result<(), String> {
    let (jobs, sources, seconds, runs) = if options.quick {
        (1_000, 10, 5, 1)
    } else {
        (10_000, 100, 15, 3)
    };
    let mut results: Vec<(String, Vec<MemoryRun>)> = Vec::new();
    for (label, jobs, sources) in [
        ("baseline: 1 job, 1 source".to_string(), 1, 1),
        (
            format!("**{} jobs, {sources} sources**", thousands(jobs as u64)),
            jobs,
            sources,
        ),
    ] {
        let mut series = Vec::new();
        for run in 0..runs {
            progress(&format!(
                "scenario 5, daemon memory with {jobs} jobs and {sources} sources, run {}/{runs}",
                run + 1
            ));
            series.push(memory_run(jobs, sources, seconds)?);
        }
        results.push((label, series));
    }
    let peak = |s: &[MemoryRun]| stats(&s.iter().map(|r| r.peak_kb as f64).collect::<Vec<_>>());
    let base = peak(&results[0].1).median;
    let mut lines = Vec::new();
    for (i, (label, series)) in results.iter().enumerate() {
        let p = peak(series);
        let end = stats(&series.iter().map(|r| r.end_kb as f64).collect::<Vec<_>>());
        let stored = stats(
            &series
                .iter()
                .map(|r| r.all_stored_after)
                .collect::<Vec<_>>(),
        );
        let last = series.last();
        lines.push(format!(
            "| {label} | {} ({:.1}-{:.1}) | {} | {} | {:.1} s | {} | {} |",
            mb(p.median),
            p.min * 1024.0 / 1e6,
            p.max * 1024.0 / 1e6,
            mb(end.median),
            if i == 0 {
                String::new()
            } else {
                ratio(p.median / base)
            },
            stored.median,
            last.map_or(0, |r| r.state_files),
            if i == 0 {
                String::new()
            } else {
                format!("100 MB: {}", verdict(p.median * 1024.0 / 1e6 <= TARGET_MB))
            },
        ));
    }
    let last = results.last().and_then(|(_, s)| s.last());
    let evaluated = match last {
        Some(r) if r.state_files > 0 => format!(
            "The daemon evaluated the jobs every poll: {} state files and a spool file of {} \
             bytes were written, so the rule engine and the outputs are in these figures.",
            thousands(r.state_files as u64),
            thousands(r.spool_bytes)
        ),
        _ => "No state files were written: this build of the daemon does not evaluate the \
              jobs yet, so the rule engine and the outputs are not in these figures."
            .to_string(),
    };
    writeln!(
        report,
        "#### Daemon memory\n\n\
         `jobmon-tracker run -c CONFIG` (release build, poll_interval 1 s, read_batch_size \
         1000, outputs state_dir, spool_file and prometheus_file set) for {seconds} s, VmRSS \
         and VmHWM read from /proc/<pid>/status four times a second, then SIGTERM (it must \
         exit 0). Each job has {EVENTS_PER_JOB} messages queued in its source's local queue \
         file (a finished run and a running one); every message must be in tracker_message \
         before the end. Median (min-max) of {runs} runs, each with a fresh database and \
         fresh queue files; MB = 10^6 bytes.\n\n\
         | configuration | peak RSS (VmHWM) | RSS at the end | x baseline | all messages stored after | state files written | target |\n\
         |---|---:|---:|---:|---:|---:|---|\n{}\n\n{evaluated}\n",
        lines.join("\n")
    )
    .ok();
    Ok(())
}

pub fn scenario_5(options: &Options, report: &mut String) -> Result<(), String> {
    super::check_release_build()?;
    rules(options, report)?;
    memory(options, report)
}
